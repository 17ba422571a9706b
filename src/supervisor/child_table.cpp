#include "supervisor/child_table.h"

#include <algorithm>

namespace yinetd::supervisor {

void ChildTable::Add(ChildRecord record) {
  record.service->running++;
  pid_t pid = record.pid;
  children_.emplace(pid, std::move(record));
}

std::optional<ChildRecord> ChildTable::Remove(pid_t pid) {
  auto it = children_.find(pid);
  if (it == children_.end()) return std::nullopt;
  ChildRecord record = std::move(it->second);
  children_.erase(it);
  record.service->running--;
  return record;
}

ChildRecord* ChildTable::Find(pid_t pid) {
  auto it = children_.find(pid);
  return it == children_.end() ? nullptr : &it->second;
}

void ChildTable::PruneOrphans() {
  std::erase_if(orphans_, [](const OrphanOutput& orphan) { return orphan.output.AtEof(); });
}

}  // namespace yinetd::supervisor
