#include "sandbox/compact_filter.h"

#include <linux/audit.h>
#include <linux/seccomp.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <map>
#include <stdexcept>
#include <utility>

namespace yinetd::sandbox {
namespace {

// Offsets into struct seccomp_data; x86_64 is little-endian, so an
// argument's low word comes first.
constexpr uint32_t kNumberOffset = offsetof(seccomp_data, nr);
constexpr uint32_t kArchOffset = offsetof(seccomp_data, arch);
constexpr uint32_t kFamilyLowOffset = offsetof(seccomp_data, args[0]);
constexpr uint32_t kFamilyHighOffset = kFamilyLowOffset + 4;

constexpr uint32_t kX32Bit = 0x40000000;    // __X32_SYSCALL_BIT
constexpr uint32_t kSkippedCall = 0xffffffff;  // -1: libseccomp lets it reach the default

// A jump's jt and jf are 8 bits. One short of the limit, so that a
// jump whose other target needed a trampoline still reaches this one.
constexpr size_t kReach = 254;

enum class Verdict { kDefault, kAllow, kByFamily };

// Calls numbered from `first` up to the next segment's first.
struct Segment {
  uint32_t first;
  Verdict verdict;
};

// Builds the program from its last instruction back: classic BPF jumps
// only forward, so every target is already placed when a jump is made.
// A Label is an instruction's distance from the end.
class ReverseAssembler {
 public:
  using Label = size_t;

  Label Return(uint32_t action) { return Push(BPF_STMT(BPF_RET | BPF_K, action)); }
  Label Load(uint32_t offset) { return Push(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset)); }
  Label Jump(uint16_t op, uint32_t k, Label yes, Label no) {
    yes = Near(yes);
    no = Near(no);
    return Push(BPF_JUMP(BPF_JMP | op | BPF_K, k, Distance(yes), Distance(no)));
  }

  std::vector<sock_filter> Finish() const { return {code_.rbegin(), code_.rend()}; }

 private:
  // How far the next instruction must jump to reach `target`.
  uint8_t Distance(Label target) const {
    size_t distance = code_.size() - target - 1;
    if (distance > 255) throw std::logic_error("seccomp program: jump out of reach");
    return static_cast<uint8_t>(distance);
  }

  // `target`, or a stand-in just before the next instruction when a
  // jump cannot reach it: a copy of a return, or an unconditional jump
  // (32-bit offset).
  Label Near(Label target) {
    size_t distance = code_.size() - target - 1;
    if (distance <= kReach) return target;
    const sock_filter& there = code_[target];
    if (BPF_CLASS(there.code) == BPF_RET) return Push(there);
    return Push(BPF_STMT(BPF_JMP | BPF_JA, static_cast<uint32_t>(distance)));
  }

  Label Push(sock_filter instruction) {
    code_.push_back(instruction);
    return code_.size() - 1;
  }

  std::vector<sock_filter> code_;  // last instruction first
};

// Appends `verdict` from `first` on, merging it with a neighbour that
// decides the same.
void Extend(std::vector<Segment>& segments, uint32_t first, Verdict verdict) {
  if (segments.back().first == first) {
    segments.back().verdict = verdict;
    if (segments.size() > 1 && segments[segments.size() - 2].verdict == verdict) segments.pop_back();
  } else if (segments.back().verdict != verdict) {
    segments.push_back({first, verdict});
  }
}

// Every call number, 0 to 2^32 - 1, in as few segments as the rules allow.
std::vector<Segment> Segments(const FilterRules& rules) {
  std::map<uint32_t, Verdict> listed;
  if (rules.allow_list) {
    for (uint32_t number : rules.allowed) listed[number] = Verdict::kAllow;
  }
  for (uint32_t number : rules.by_family) listed[number] = Verdict::kByFamily;
  std::vector<Segment> segments = {{0, Verdict::kDefault}};
  for (auto [number, verdict] : listed) {
    Extend(segments, number, verdict);
    if (number != UINT32_MAX) Extend(segments, number + 1, Verdict::kDefault);
  }
  return segments;
}

class Builder {
 public:
  explicit Builder(const FilterRules& rules) : rules_(rules) {}

  std::vector<sock_filter> Build() {
    kill_ = code_.Return(SECCOMP_RET_KILL_THREAD);  // libseccomp's action for a foreign architecture
    default_ = code_.Return(rules_.allow_list ? SECCOMP_RET_ERRNO | EPERM : SECCOMP_RET_ALLOW);
    allow_ = rules_.allow_list ? code_.Return(SECCOMP_RET_ALLOW) : default_;
    if (!rules_.by_family.empty()) by_family_ = FamilyCheck();
    segments_ = Segments(rules_);
    Label search = Search(0, segments_.size() - 1);
    Label x32 = code_.Jump(BPF_JEQ, kSkippedCall, search, kill_);
    code_.Jump(BPF_JGE, kX32Bit, x32, search);
    Label number = code_.Load(kNumberOffset);
    code_.Jump(BPF_JEQ, AUDIT_ARCH_X86_64, number, kill_);
    code_.Load(kArchOffset);
    return code_.Finish();
  }

 private:
  using Label = ReverseAssembler::Label;

  // The first argument, all 64 bits of it, must be an allowed family.
  Label FamilyCheck() {
    Label refuse = rules_.allow_list ? default_ : code_.Return(SECCOMP_RET_ERRNO | EAFNOSUPPORT);
    std::vector<uint32_t> families = rules_.families;
    std::sort(families.begin(), families.end());
    families.erase(std::unique(families.begin(), families.end()), families.end());
    Label next = refuse;
    for (auto family = families.rbegin(); family != families.rend(); ++family) {
      next = code_.Jump(BPF_JEQ, *family, allow_, next);
    }
    Label low = code_.Load(kFamilyLowOffset);
    code_.Jump(BPF_JEQ, 0, low, refuse);
    return code_.Load(kFamilyHighOffset);
  }

  // Finds the segment of segments_[first..last] that holds the call's
  // number: a tree of "number >= boundary" tests, with "number == call"
  // for a lone call between two like neighbours (one test, not two).
  Label Search(size_t first, size_t last) {
    if (first == last) return Outcome(segments_[first].verdict);
    if (IsLoneCall(first, last)) {
      return code_.Jump(BPF_JEQ, segments_[first + 1].first, Outcome(segments_[first + 1].verdict),
                        Outcome(segments_[first].verdict));
    }
    size_t middle = Split(first, last).middle;
    Label above = Search(middle, last);
    Label below = Search(first, middle - 1);
    return code_.Jump(BPF_JGE, segments_[middle].first, above, below);
  }

  // A call, alone, between two segments that decide alike.
  bool IsLoneCall(size_t first, size_t last) const {
    return last == first + 2 && segments_[first].verdict == segments_[last].verdict &&
           segments_[last].first - segments_[first + 1].first == 1;
  }

  struct Plan {
    size_t tests;   // instructions Search spends on the segments
    size_t middle;  // the first segment of the upper half
  };

  // Where to split segments_[first..last], among the three boundaries
  // nearest its middle: the one that leaves the fewest tests. The tree
  // stays balanced because the kernel walks it for every call number
  // when it fills its cache, in each child.
  Plan Split(size_t first, size_t last) {
    if (first == last) return {0, first};
    if (IsLoneCall(first, last)) return {1, first};
    auto known = plans_.find({first, last});
    if (known != plans_.end()) return known->second;
    size_t balanced = (first + last + 1) / 2;
    Plan best{SIZE_MAX, balanced};
    for (size_t middle = balanced - 1; middle <= balanced + 1; ++middle) {
      if (middle <= first || middle > last) continue;
      size_t tests = 1 + Split(first, middle - 1).tests + Split(middle, last).tests;
      if (tests < best.tests) best = {tests, middle};
    }
    plans_[{first, last}] = best;
    return best;
  }

  Label Outcome(Verdict verdict) const {
    switch (verdict) {
      case Verdict::kAllow: return allow_;
      case Verdict::kByFamily: return by_family_;
      case Verdict::kDefault: break;
    }
    return default_;
  }

  const FilterRules& rules_;
  ReverseAssembler code_;
  std::vector<Segment> segments_;
  std::map<std::pair<size_t, size_t>, Plan> plans_;  // Split's answers, by segment range
  Label kill_ = 0, default_ = 0, allow_ = 0, by_family_ = 0;
};

}  // namespace

std::vector<sock_filter> BuildCompactFilter(const FilterRules& rules) { return Builder(rules).Build(); }

}  // namespace yinetd::sandbox
