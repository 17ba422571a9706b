#include "config/program_access.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "config/fake_host.h"

namespace yinetd::config {
namespace {

constexpr uid_t kNobody = 65534;
constexpr gid_t kStaff = 50;

Credentials Nobody(std::vector<gid_t> more_groups = {}) {
  Credentials credentials;
  credentials.user = "nobody";
  credentials.uid = kNobody;
  credentials.gid = kNobody;
  credentials.set_uid = true;
  credentials.groups = {kNobody};
  credentials.groups.insert(credentials.groups.end(), more_groups.begin(), more_groups.end());
  return credentials;
}

// /, /srv and /srv/app open to all; /srv/app/run.sh executable by all.
FakeHost OpenTree() {
  FakeHost host;
  host.modes["/"] = {S_IFDIR | 0755, 0, 0};
  host.modes["/srv"] = {S_IFDIR | 0755, 0, 0};
  host.modes["/srv/app"] = {S_IFDIR | 0755, 0, 0};
  host.modes["/srv/app/run.sh"] = {S_IFREG | 0755, 0, 0};
  return host;
}

TEST_CASE("a program every user can reach is not blocked") {
  FakeHost host = OpenTree();
  CHECK(ProgramBlocked("/srv/app/run.sh", "", Nobody(), host) == "");
}

TEST_CASE("a directory the user cannot search blocks, named with its mode and owner") {
  FakeHost host = OpenTree();
  host.modes["/srv"] = {S_IFDIR | 0700, 0, 0};
  CHECK(ProgramBlocked("/srv/app/run.sh", "", Nobody(), host) == "cannot search /srv (mode 0700, owner uid 0, group gid 0)");
}

TEST_CASE("a file without the user's execute bit blocks") {
  FakeHost host = OpenTree();
  host.modes["/srv/app/run.sh"] = {S_IFREG | 0744, 0, 0};
  CHECK(ProgramBlocked("/srv/app/run.sh", "", Nobody(), host) ==
        "cannot execute /srv/app/run.sh (mode 0744, owner uid 0, group gid 0)");
}

TEST_CASE("owner, then group, then other bits decide, as the kernel picks them") {
  FakeHost host = OpenTree();
  // Owned by the user: only the owner's bits count, even if others may.
  host.modes["/srv/app"] = {S_IFDIR | 0075, kNobody, 0};
  CHECK(ProgramBlocked("/srv/app/run.sh", "", Nobody(), host).find("cannot search /srv/app") == 0);
  // A supplementary group the user is in opens it.
  host.modes["/srv/app"] = {S_IFDIR | 0750, 0, kStaff};
  CHECK(ProgramBlocked("/srv/app/run.sh", "", Nobody({kStaff}), host) == "");
  CHECK(ProgramBlocked("/srv/app/run.sh", "", Nobody(), host).find("cannot search /srv/app") == 0);
  // In the group, only the group's bits count.
  host.modes["/srv/app"] = {S_IFDIR | 0705, 0, kStaff};
  CHECK(ProgramBlocked("/srv/app/run.sh", "", Nobody({kStaff}), host).find("cannot search /srv/app") == 0);
}

TEST_CASE("root, and a service without user, are never blocked") {
  FakeHost host = OpenTree();
  host.modes["/srv"] = {S_IFDIR | 0700, 0, 0};
  Credentials root = Nobody();
  root.uid = 0;
  CHECK(ProgramBlocked("/srv/app/run.sh", "", root, host) == "");
  Credentials group_only = Nobody();
  group_only.set_uid = false;
  CHECK(ProgramBlocked("/srv/app/run.sh", "", group_only, host) == "");
}

TEST_CASE("the directories of a link's target are searched too") {
  FakeHost host = OpenTree();
  host.links["/srv/app/run.sh"] = "/opt/private/run.sh";
  host.modes["/opt"] = {S_IFDIR | 0755, 0, 0};
  host.modes["/opt/private"] = {S_IFDIR | 0700, 0, 0};
  CHECK(ProgramBlocked("/srv/app/run.sh", "", Nobody(), host).find("cannot search /opt/private") == 0);
}

TEST_CASE("in a chroot, the directories above the new root are not the user's to search") {
  FakeHost host;
  host.modes["/"] = {S_IFDIR | 0755, 0, 0};
  host.modes["/jails"] = {S_IFDIR | 0700, 0, 0};
  host.modes["/jails/a"] = {S_IFDIR | 0755, 0, 0};
  host.modes["/jails/a/bin"] = {S_IFDIR | 0755, 0, 0};
  host.modes["/jails/a/bin/sh"] = {S_IFREG | 0755, 0, 0};
  CHECK(ProgramBlocked("/bin/sh", "/jails/a", Nobody(), host) == "");
  host.modes["/jails/a"] = {S_IFDIR | 0700, 0, 0};
  CHECK(ProgramBlocked("/bin/sh", "/jails/a", Nobody(), host).find("cannot search /jails/a ") == 0);
}

}  // namespace
}  // namespace yinetd::config
