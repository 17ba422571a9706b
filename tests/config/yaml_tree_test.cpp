#include "config/yaml_tree.h"

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "config/yaml_shape.h"

namespace yinetd::config::yaml {
namespace {

// Texts libyaml reads: its tree must be yaml-cpp's, position for position.
const char* kSameTree[] = {
    "services:\n  - name: echo\n    listen: 127.0.0.1:7007\n    program: /bin/cat\n",
    "services:\n- name: a\n  args: [x, 'y', \"z\"]\n  env: {A: b, C: \"d e\"}\n",
    "a: 1\nb:\n  - c\n  - - d\n    - e\n  - f: g\n    h: i\nj: k\n",
    "# a comment\n\na: b   # another\n\n# end\n",
    "a: 'it''s'\nb: \"tab\\there\"\nc: 'multi\n  line'\n",
    "a: ~\nb: null\nc: Null\nd: NULL\ne: 'null'\nf: \"~\"\n",
    "a: 1\na: 2\n",
    "[a, {b: c}, [d]]\n",
    "{a: [b, c]}\n",
    "[a: b, c]\n",
    "a: b\n---\nc: d\n",
    "",
    "# only a comment\n",
    "plain scalar\n",
    "a:\tb\n",
    "a:\n    - x\n    - y\nz: w\n",
};

TEST_CASE("libyaml's tree is yaml-cpp's: types, scalars, lines and columns") {
  for (const char* text : kSameTree) {
    CAPTURE(text);
    Node fast = FromLibyaml(text);
    REQUIRE(fast);
    CHECK(Shape(fast) == Shape(FromYamlCpp(text)));
  }
}

TEST_CASE("the configs shipped and the fuzzer's seeds give the same tree both ways") {
  const char* root = std::getenv("YINETD_SOURCE_ROOT");
  REQUIRE(root != nullptr);
  for (const char* path : {"/config/yinetd.yaml", "/tests/fuzz/corpus/config/errors.yaml",
                           "/tests/fuzz/corpus/config/example.yaml", "/tests/fuzz/corpus/config/limits.yaml",
                           "/packaging/yinetd.yaml.in"}) {
    std::ifstream in(std::string(root) + path);
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    CAPTURE(path);
    Node fast = FromLibyaml(text.str());
    REQUIRE(fast);
    CHECK(Shape(fast) == Shape(FromYamlCpp(text.str())));
  }
}

// Where the two would place a node differently, or libyaml refuses what
// yaml-cpp takes, yaml-cpp decides, as before.
const char* kLeftToYamlCpp[] = {
    "a:\nb: 2\n",                   // an empty value: yaml-cpp puts it at the next token
    "a: {b: , c}\n",
    "a: [ , ]\n",                    // libyaml refuses it
    "a: \"caf\xc3\xa9\"\nb: [x]\n",  // columns: libyaml counts characters, yaml-cpp bytes
    "a: b\r\nc: d\r\n",              // line breaks
    "---\n",
    "? complex\n: value\n",         // '?': yaml-cpp reads it apart in flow collections
    "a: 'why?'\n",
    "a: &x {b: 1, c: [2, 3]}\nd: *x\n",  // anchors, aliases, tags, directives: scanned apart
    "k: &x a\n  b\n",
    " &a |\n r\n",
    "a: !!str null\nb: !custom x\n",
    "f: >-\n  a |\n  ",              // block scalars: blank lines and trailing blanks kept apart
    "a: |\n  two\n  lines\nb: >-\n  folded\n  text\nc: d\n",
    "%YAML 1.1\n---\na: b\n...\n",
};

TEST_CASE("texts libyaml would place differently are read by yaml-cpp") {
  for (const char* text : kLeftToYamlCpp) {
    CAPTURE(text);
    CHECK_FALSE(FromLibyaml(text));
    CHECK(Shape(Load(text)) == Shape(FromYamlCpp(text)));
  }
}

TEST_CASE("a syntax error is yaml-cpp's, with its words and position") {
  // The last four a first libyaml reading took (a '?' in a flow scalar;
  // text after the first document's root; a plain scalar over two lines
  // after an anchor; a tag): yaml-cpp refuses them, and still does.
  for (const char* text : {"services:\n  - name: [unclosed\n", "a: - b\n", "a: *undefined\n", "a: b: c\n",
                           "a: {b: c?d}\n", "[a], b: c\n", "- &x a\n  b\n", "!(! |\n"}) {
    CAPTURE(text);
    std::string expected;
    try {
      YAML::Load(text);
    } catch (const YAML::ParserException& e) {
      expected = e.what();
    }
    REQUIRE_FALSE(expected.empty());
    CHECK_THROWS_WITH_AS(Load(text), expected.c_str(), YAML::ParserException);
  }
}

TEST_CASE("nodes answer as yaml-cpp's do") {
  Node root = Load("name: x\nlist: [a, b]\nmap: {k: v}\n");
  CHECK(root.IsMap());
  CHECK(root.size() == 3);
  CHECK(root["name"].Scalar() == "x");
  CHECK(root["list"].size() == 2);
  CHECK_FALSE(root["missing"]);
  CHECK(root["missing"].Where().is_null());
  CHECK_FALSE(root["list"]["a"]);  // a sequence has no keys
  CHECK(root["map"].Scalar().empty());
  CHECK_THROWS_AS(root["name"]["x"], YAML::BadSubscript);
  CHECK(Load("").IsNull());
}

TEST_CASE("a 1000-service config takes the libyaml path") {
  std::string text = "services:\n";
  for (int i = 0; i < 1000; ++i) {
    text += "  - name: s" + std::to_string(i) + "\n    listen: 127.0.0.1:" + std::to_string(20000 + i) +
            "\n    program: /bin/cat\n    stderr: null\n";
  }
  Node fast = FromLibyaml(text);
  REQUIRE(fast);
  CHECK(fast["services"].size() == 1000);
  CHECK(Shape(fast) == Shape(FromYamlCpp(text)));
}

}  // namespace
}  // namespace yinetd::config::yaml
