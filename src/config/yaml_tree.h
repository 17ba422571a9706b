// yaml::Load: YAML text → a tree of nodes, each with its line and column,
// for the loader to walk.
//
// The tree keeps yaml-cpp's node model (what the loader was written
// against, and what its messages and positions come from): a node is null,
// a scalar, a sequence or a map; a missing map key is an undefined node;
// subscripting a scalar throws YAML::BadSubscript; a syntax error throws
// YAML::ParserException with yaml-cpp's own words and position.
//
// Why not YAML::Load: yaml-cpp's scanner costs about 0.3 ms of CPU per KB,
// most of a 1000-service start-up (docs/benchmarks.md). libyaml, a C event
// parser, reads the same text in a tenth of that. So libyaml builds the
// tree when it gives the tree and positions yaml-cpp would; every other
// text goes to yaml-cpp as before, whose tree (or error) is copied into the
// same shape: a byte outside ASCII, a carriage return, a '?', an empty
// value, an anchor, alias, tag or directive, a block scalar (| or >),
// nesting deeper than
// kMaxLibyamlDepth, and anything libyaml refuses (also after the first
// document). Each of these is a place the two were seen to differ;
// tests/fuzz/yaml_tree_fuzzer.cpp looks for more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace yinetd::config::yaml {

enum class NodeType { kUndefined, kNull, kScalar, kSequence, kMap };

// 0-based, as yaml-cpp counts; line -1 when there is none (an undefined node).
struct Position {
  int line = -1;
  int column = -1;
  bool is_null() const { return line < 0; }
};

struct Document;
class Item;

// A handle on one node of a document; cheap to copy, keeps its document alive.
class Node {
 public:
  Node() = default;  // undefined
  Node(std::shared_ptr<const Document> document, uint32_t index)
      : document_(std::move(document)), index_(index) {}

  // False for an undefined node (a key a map does not have), like yaml-cpp's.
  explicit operator bool() const { return document_ != nullptr; }

  NodeType Type() const;
  bool IsNull() const { return Type() == NodeType::kNull; }
  bool IsScalar() const { return Type() == NodeType::kScalar; }
  bool IsSequence() const { return Type() == NodeType::kSequence; }
  bool IsMap() const { return Type() == NodeType::kMap; }

  // The text of a scalar; "" for any other node.
  const std::string& Scalar() const;
  Position Where() const;
  // Items of a sequence, pairs of a map, 0 for anything else.
  size_t size() const;

  // The value of the first scalar key equal to `key` in a map; undefined for
  // a key the map lacks and for any node that is not a map. Throws
  // YAML::BadSubscript on a scalar, as yaml-cpp does.
  Node operator[](std::string_view key) const;

  class Iterator;
  // A sequence yields its items, a map its pairs (`first`, `second`).
  Iterator begin() const;
  Iterator end() const;

 private:
  std::shared_ptr<const Document> document_;
  uint32_t index_ = 0;
};

// What iterating a node yields, as in yaml-cpp: for a sequence the item
// itself (this object is that node), for a map `first` and `second`.
class Item : public Node {
 public:
  Item() = default;
  Item(Node item, Node key, Node value) : Node(std::move(item)), first(std::move(key)), second(std::move(value)) {}
  Node first;
  Node second;
};

class Node::Iterator {
 public:
  Iterator(Node node, size_t at) : node_(std::move(node)), at_(at) {}
  Item operator*() const;
  Iterator& operator++();
  bool operator==(const Iterator& other) const { return at_ == other.at_; }
  bool operator!=(const Iterator& other) const { return at_ != other.at_; }

 private:
  Node node_;
  size_t at_;  // an item's index, or a pair's
};

// The parsed first document of `text` (null for an empty text). Throws
// YAML::ParserException (a YAML::Exception) for a syntax error.
Node Load(const std::string& text);

// The parts of Load, for tests: each returns the same tree for a text both
// accept. FromLibyaml returns an undefined node for a text it leaves to
// yaml-cpp.
Node FromLibyaml(const std::string& text);
Node FromYamlCpp(const std::string& text);

}  // namespace yinetd::config::yaml
