// A yaml::Node's whole tree as text, for comparing the trees libyaml and
// yaml-cpp build (tests/config/yaml_tree_test.cpp, the yaml_tree fuzzer).
#pragma once

#include <sstream>
#include <string>

#include "config/yaml_tree.h"

namespace yinetd::config::yaml {

// Type, position and scalar of every node; cut at a depth, since an alias
// may make a cycle.
inline std::string Shape(const Node& node, int depth = 0) {
  std::ostringstream out;
  Position where = node.Where();
  out << "(" << static_cast<int>(node.Type()) << "@" << where.line << ":" << where.column;
  if (node.IsScalar()) out << " '" << node.Scalar() << "'";
  if (depth < 20) {
    for (const auto& item : node) {
      if (node.IsMap()) {
        out << " " << Shape(item.first, depth + 1) << "=" << Shape(item.second, depth + 1);
      } else {
        out << " " << Shape(item, depth + 1);
      }
    }
  }
  out << ")";
  return out.str();
}

}  // namespace yinetd::config::yaml
