#include "config/yaml_tree.h"

#include <yaml-cpp/yaml.h>
#include <yaml.h>

#include <algorithm>
#include <map>
#include <optional>

namespace yinetd::config::yaml {

struct NodeData {
  NodeType type;
  Position where;
  std::string scalar;
  std::vector<uint32_t> children;  // a sequence's items; a map's key, value, key, value...
};

struct Document {
  std::vector<NodeData> nodes;  // nodes[0] is the root
};

namespace {

const std::string kEmpty;

// yaml-cpp stops at a depth of 2000 with its own error; far below that,
// libyaml's tree is used, and deeper texts are left to yaml-cpp to decide.
constexpr size_t kMaxLibyamlDepth = 500;

// Whether libyaml reads `text` as yaml-cpp does. libyaml counts columns in
// characters and takes more line breaks than yaml-cpp (\r, U+2028): in
// plain ASCII without \r both count the same. yaml-cpp refuses a '?' inside
// a plain scalar in a flow collection (`{a: b?c}`) and takes '? ' as a key
// anywhere there; libyaml does neither. Rare in a config: left to yaml-cpp.
bool ReadAlike(const std::string& text) {
  return std::none_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x80 || c == '\r' || c == '?';
  });
}

// The untagged plain scalars yaml-cpp reads as null (its IsNullString);
// an empty one never gets here.
bool IsNullWord(std::string_view text) {
  return text == "~" || text == "null" || text == "Null" || text == "NULL";
}

class LibyamlBuilder {
 public:
  explicit LibyamlBuilder(const std::string& text) {
    yaml_parser_initialize(&parser_);
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  }
  ~LibyamlBuilder() { yaml_parser_delete(&parser_); }
  LibyamlBuilder(const LibyamlBuilder&) = delete;
  LibyamlBuilder& operator=(const LibyamlBuilder&) = delete;

  // The first document's nodes, or nullopt for yaml-cpp to decide.
  std::optional<std::vector<NodeData>> Build();

 private:
  // False when the event leaves the text to yaml-cpp.
  bool Handle(const yaml_event_t& event);
  uint32_t Add(NodeType type, const yaml_mark_t& mark);
  void Attach(uint32_t index);

  yaml_parser_t parser_;
  std::vector<NodeData> nodes_;
  std::vector<uint32_t> open_;  // the collections being read, innermost last
  bool first_done_ = false;
  bool done_ = false;
};

std::optional<std::vector<NodeData>> LibyamlBuilder::Build() {
  while (!done_) {
    yaml_event_t event;
    if (!yaml_parser_parse(&parser_, &event)) return std::nullopt;
    bool handled = Handle(event);
    yaml_event_delete(&event);
    if (!handled) return std::nullopt;
  }
  if (nodes_.empty()) nodes_.push_back(NodeData{NodeType::kNull, Position{}, {}, {}});
  return std::move(nodes_);
}

// Anchors, aliases, tags and directives: yaml-cpp scans them differently
// (it refuses `!(!`, names `&a:b` "a:b" where libyaml stops at the colon,
// reads the lines after `&a |` apart), they are rare in a config and mean
// nothing to the loader, so a text that has one is left to yaml-cpp.
bool HasPropertyOrDirective(const yaml_event_t& event) {
  switch (event.type) {
    case YAML_DOCUMENT_START_EVENT:
      return event.data.document_start.version_directive != nullptr ||
             event.data.document_start.tag_directives.start != event.data.document_start.tag_directives.end;
    case YAML_ALIAS_EVENT: return true;
    case YAML_SCALAR_EVENT: return event.data.scalar.anchor != nullptr || event.data.scalar.tag != nullptr;
    case YAML_SEQUENCE_START_EVENT:
      return event.data.sequence_start.anchor != nullptr || event.data.sequence_start.tag != nullptr;
    case YAML_MAPPING_START_EVENT:
      return event.data.mapping_start.anchor != nullptr || event.data.mapping_start.tag != nullptr;
    default: return false;
  }
}

bool LibyamlBuilder::Handle(const yaml_event_t& event) {
  if (first_done_ && event.type != YAML_STREAM_END_EVENT) return true;
  if (HasPropertyOrDirective(event)) return false;
  switch (event.type) {
    case YAML_STREAM_END_EVENT:
      done_ = true;
      return true;
    case YAML_DOCUMENT_END_EVENT:
      // yaml-cpp's Load keeps the first document only, but it does refuse
      // what follows the first document's root without a `---`. libyaml
      // reads on, so that a text it refuses anywhere goes to yaml-cpp.
      first_done_ = true;
      return true;
    case YAML_SCALAR_EVENT: {
      const auto& scalar = event.data.scalar;
      std::string_view text(reinterpret_cast<const char*>(scalar.value), scalar.length);
      // yaml-cpp places an empty value where the next token starts, after
      // any blank lines and comments; libyaml, where the value would have
      // begun. Rare in a config, so left to yaml-cpp.
      if (text.empty() && scalar.style == YAML_PLAIN_SCALAR_STYLE) return false;
      // Block scalars (`|`, `>`): the two keep different blank lines and
      // trailing blanks in them (the fuzzer found two cases); rare in a
      // config, so left to yaml-cpp.
      if (scalar.style == YAML_LITERAL_SCALAR_STYLE || scalar.style == YAML_FOLDED_SCALAR_STYLE) return false;
      bool null = scalar.style == YAML_PLAIN_SCALAR_STYLE && IsNullWord(text);
      uint32_t index = Add(null ? NodeType::kNull : NodeType::kScalar, event.start_mark);
      if (!null) nodes_[index].scalar = text;
      Attach(index);
      return true;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
      if (open_.size() >= kMaxLibyamlDepth) return false;
      bool map = event.type == YAML_MAPPING_START_EVENT;
      uint32_t index = Add(map ? NodeType::kMap : NodeType::kSequence, event.start_mark);
      Attach(index);
      open_.push_back(index);
      return true;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
      open_.pop_back();
      return true;
    default:  // the stream's and the document's start
      return true;
  }
}

uint32_t LibyamlBuilder::Add(NodeType type, const yaml_mark_t& mark) {
  auto index = static_cast<uint32_t>(nodes_.size());
  nodes_.push_back(NodeData{type, Position{static_cast<int>(mark.line), static_cast<int>(mark.column)}, {}, {}});
  return index;
}

void LibyamlBuilder::Attach(uint32_t index) {
  if (!open_.empty()) nodes_[open_.back()].children.push_back(index);
}

// Copies yaml-cpp's tree. An aliased node is one node in yaml-cpp and stays
// one here (a text of nested aliases would otherwise grow exponentially);
// yaml-cpp has no public node identity, but each node has its own tag
// string, so the tag's address names the node.
class YamlCppCopier {
 public:
  std::vector<NodeData> Copy(const YAML::Node& root) {
    Add(root);
    return std::move(nodes_);
  }

 private:
  uint32_t Add(const YAML::Node& node) {
    auto [seen, added] = copied_.try_emplace(&node.Tag(), static_cast<uint32_t>(nodes_.size()));
    if (!added) return seen->second;
    uint32_t index = seen->second;
    YAML::Mark mark = node.Mark();
    Position where = mark.is_null() ? Position{} : Position{mark.line, mark.column};
    nodes_.push_back(NodeData{TypeOf(node), where, {}, {}});
    if (node.IsScalar()) nodes_[index].scalar = node.Scalar();
    std::vector<uint32_t> children;
    for (const auto& item : node) {
      if (node.IsMap()) {
        children.push_back(Add(item.first));
        children.push_back(Add(item.second));
      } else {
        children.push_back(Add(item));
      }
    }
    nodes_[index].children = std::move(children);
    return index;
  }

  static NodeType TypeOf(const YAML::Node& node) {
    switch (node.Type()) {
      case YAML::NodeType::Null: return NodeType::kNull;
      case YAML::NodeType::Scalar: return NodeType::kScalar;
      case YAML::NodeType::Sequence: return NodeType::kSequence;
      case YAML::NodeType::Map: return NodeType::kMap;
      default: return NodeType::kUndefined;
    }
  }

  std::vector<NodeData> nodes_;
  std::map<const std::string*, uint32_t> copied_;
};

Node RootOf(std::vector<NodeData> nodes) {
  auto document = std::make_shared<Document>();
  document->nodes = std::move(nodes);
  return Node(std::move(document), 0);
}

}  // namespace

NodeType Node::Type() const { return document_ ? document_->nodes[index_].type : NodeType::kUndefined; }

const std::string& Node::Scalar() const { return document_ ? document_->nodes[index_].scalar : kEmpty; }

Position Node::Where() const { return document_ ? document_->nodes[index_].where : Position{}; }

size_t Node::size() const {
  if (!document_) return 0;
  const NodeData& data = document_->nodes[index_];
  return data.type == NodeType::kMap ? data.children.size() / 2 : data.children.size();
}

Node Node::operator[](std::string_view key) const {
  if (!document_) return Node();
  const NodeData& data = document_->nodes[index_];
  if (data.type == NodeType::kScalar) {
    YAML::Mark mark;
    mark.line = data.where.line;
    mark.column = data.where.column;
    throw YAML::BadSubscript(mark, std::string(key));
  }
  if (data.type != NodeType::kMap) return Node();
  for (size_t i = 0; i + 1 < data.children.size(); i += 2) {
    const NodeData& candidate = document_->nodes[data.children[i]];
    if (candidate.type == NodeType::kScalar && candidate.scalar == key) return Node(document_, data.children[i + 1]);
  }
  return Node();
}

Node::Iterator Node::begin() const { return Iterator(*this, 0); }

Node::Iterator Node::end() const { return Iterator(*this, size()); }

Item Node::Iterator::operator*() const {
  const NodeData& data = node_.document_->nodes[node_.index_];
  if (data.type == NodeType::kMap) {
    return Item(Node(), Node(node_.document_, data.children[2 * at_]), Node(node_.document_, data.children[2 * at_ + 1]));
  }
  return Item(Node(node_.document_, data.children[at_]), Node(), Node());
}

Node::Iterator& Node::Iterator::operator++() {
  ++at_;
  return *this;
}

Node FromLibyaml(const std::string& text) {
  if (!ReadAlike(text)) return Node();
  LibyamlBuilder builder(text);
  std::optional<std::vector<NodeData>> nodes = builder.Build();
  return nodes ? RootOf(std::move(*nodes)) : Node();
}

Node FromYamlCpp(const std::string& text) { return RootOf(YamlCppCopier().Copy(YAML::Load(text))); }

Node Load(const std::string& text) {
  if (Node root = FromLibyaml(text)) return root;
  return FromYamlCpp(text);
}

}  // namespace yinetd::config::yaml
