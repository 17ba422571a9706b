#include "supervisor/child_table.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

namespace yinetd::supervisor {
namespace {

std::shared_ptr<Service> MakeService(const char* name) {
  config::ServiceConfig config;
  config.name = name;
  config.program = "/bin/cat";
  config.args = {"-u"};
  return std::make_shared<Service>(config);
}

ChildRecord Record(std::shared_ptr<Service> service, pid_t pid) {
  return ChildRecord{std::move(service), pid, "127.0.0.1:1", Clock::now(), OutputReader(UniqueFd()), "", std::nullopt, std::nullopt, std::nullopt};
}

TEST_CASE("a service prepares its argv once") {
  auto service = MakeService("echo");
  REQUIRE(service->argv_ptrs.size() == 3);
  CHECK(std::string(service->argv_ptrs[0]) == "/bin/cat");
  CHECK(std::string(service->argv_ptrs[1]) == "-u");
  CHECK(service->argv_ptrs[2] == nullptr);
}

TEST_CASE("adding and removing children keeps each service's running count") {
  auto echo = MakeService("echo");
  auto web = MakeService("web");
  ChildTable table;
  table.Add(Record(echo, 10));
  table.Add(Record(echo, 11));
  table.Add(Record(web, 12));
  CHECK(echo->running == 2);
  CHECK(web->running == 1);
  CHECK(table.Size() == 3);
  REQUIRE(table.Find(11) != nullptr);
  CHECK(table.Find(11)->service == echo);

  auto removed = table.Remove(11);
  REQUIRE(removed.has_value());
  CHECK(removed->pid == 11);
  CHECK(echo->running == 1);
  CHECK_FALSE(table.Remove(11).has_value());
  CHECK_FALSE(table.Remove(999).has_value());
  CHECK(table.Find(11) == nullptr);
}

TEST_CASE("a record keeps its service alive after the config lets go") {
  ChildTable table;
  {
    auto temporary = MakeService("old");
    table.Add(Record(temporary, 20));
  }
  auto record = table.Remove(20);
  REQUIRE(record.has_value());
  CHECK(record->service->config.name == "old");
}

TEST_CASE("orphans are pruned once their pipe reaches EOF") {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
  UniqueFd write_end(fds[1]);
  ChildTable table;
  table.AddOrphan(OrphanOutput{MakeService("echo"), 30, OutputReader(UniqueFd(fds[0]))});
  table.PruneOrphans();
  CHECK(table.Orphans().size() == 1);
  write_end.Reset();
  table.Orphans()[0].output.Read();
  table.PruneOrphans();
  CHECK(table.Orphans().empty());
}

}  // namespace
}  // namespace yinetd::supervisor
