// A yaml::Node's whole tree as text, for comparing the trees libyaml and
// yaml-cpp build (tests/config/yaml_tree_test.cpp, the yaml_tree fuzzer).
#pragma once

#include <sstream>
#include <string>

#include "config/yaml_tree.h"

namespace yinetd::config::yaml {

// Type, position and scalar of every node, up to `budget` nodes: an alias
// may make a cycle, or a tree that doubles at each level.
inline void AppendShape(const Node& node, std::ostringstream& out, int& budget) {
  if (--budget < 0) {
    out << "...";
    return;
  }
  Position where = node.Where();
  out << "(" << static_cast<int>(node.Type()) << "@" << where.line << ":" << where.column;
  if (node.IsScalar()) out << " '" << node.Scalar() << "'";
  for (const auto& item : node) {
    out << " ";
    if (node.IsMap()) {
      AppendShape(item.first, out, budget);
      out << "=";
      AppendShape(item.second, out, budget);
    } else {
      AppendShape(item, out, budget);
    }
  }
  out << ")";
}

inline std::string Shape(const Node& node) {
  std::ostringstream out;
  int budget = 20'000;
  AppendShape(node, out, budget);
  return out.str();
}

}  // namespace yinetd::config::yaml
