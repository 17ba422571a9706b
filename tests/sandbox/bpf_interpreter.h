// A classic-BPF interpreter for seccomp programs, so that a test can run a
// filter on any input without installing it: what the kernel would decide
// (Run), and whether the kernel's cache of always-allowed calls could decide
// it without running the filter (ConstantAllow, after seccomp_is_const_allow
// in kernel/seccomp.c).
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

namespace yinetd::sandbox::testing {

// The filter's return value, or nullopt for a program the kernel would
// refuse on this path: an unknown instruction, a jump or load out of range,
// running off the end.
inline std::optional<uint32_t> Run(const std::vector<sock_filter>& program, const seccomp_data& data) {
  uint32_t a = 0, x = 0;
  uint32_t memory[BPF_MEMWORDS] = {};
  auto word = [&](uint32_t offset) -> std::optional<uint32_t> {
    if (offset % 4 != 0 || offset + 4 > sizeof(data)) return std::nullopt;
    uint32_t value = 0;
    std::memcpy(&value, reinterpret_cast<const char*>(&data) + offset, 4);
    return value;
  };
  for (size_t pc = 0; pc < program.size(); ++pc) {
    const sock_filter& insn = program[pc];
    uint32_t operand = BPF_SRC(insn.code) == BPF_X ? x : insn.k;
    switch (BPF_CLASS(insn.code)) {
      case BPF_LD:
      case BPF_LDX: {
        std::optional<uint32_t> value;
        if (insn.code == (BPF_LD | BPF_W | BPF_ABS)) value = word(insn.k);
        else if (BPF_MODE(insn.code) == BPF_MEM && insn.k < BPF_MEMWORDS) value = memory[insn.k];
        else if (BPF_MODE(insn.code) == BPF_IMM) value = insn.k;
        else if (BPF_MODE(insn.code) == BPF_LEN) value = sizeof(data);
        if (!value) return std::nullopt;
        (BPF_CLASS(insn.code) == BPF_LD ? a : x) = *value;
        break;
      }
      case BPF_ST:
      case BPF_STX:
        if (insn.k >= BPF_MEMWORDS) return std::nullopt;
        memory[insn.k] = BPF_CLASS(insn.code) == BPF_ST ? a : x;
        break;
      case BPF_ALU:
        switch (BPF_OP(insn.code)) {
          case BPF_ADD: a += operand; break;
          case BPF_SUB: a -= operand; break;
          case BPF_AND: a &= operand; break;
          case BPF_OR: a |= operand; break;
          case BPF_XOR: a ^= operand; break;
          case BPF_LSH: if (operand >= 32) return std::nullopt; a <<= operand; break;
          case BPF_RSH: if (operand >= 32) return std::nullopt; a >>= operand; break;
          case BPF_NEG: a = 0 - a; break;
          default: return std::nullopt;
        }
        break;
      case BPF_MISC:
        if (BPF_MISCOP(insn.code) == BPF_TAX) x = a;
        else a = x;
        break;
      case BPF_JMP: {
        size_t skip = 0;
        if (BPF_OP(insn.code) == BPF_JA) {
          skip = insn.k;
        } else {
          bool taken = false;
          switch (BPF_OP(insn.code)) {
            case BPF_JEQ: taken = a == operand; break;
            case BPF_JGT: taken = a > operand; break;
            case BPF_JGE: taken = a >= operand; break;
            case BPF_JSET: taken = (a & operand) != 0; break;
            default: return std::nullopt;
          }
          skip = taken ? insn.jt : insn.jf;
        }
        if (pc + 1 + skip >= program.size()) return std::nullopt;
        pc += skip;
        break;
      }
      case BPF_RET:
        return BPF_RVAL(insn.code) == BPF_A ? a : insn.k;
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;  // ran off the end
}

// Whether the kernel, when the filter is installed, finds that `nr` on
// `arch` is always allowed: it follows the program with only the number
// and architecture known, and gives up at anything else. `steps` counts
// the instructions it followed: the kernel does this for every call
// number of both architectures in every child that installs the filter.
inline bool ConstantAllow(const std::vector<sock_filter>& program, uint32_t arch, uint32_t nr,
                          size_t* steps = nullptr) {
  uint32_t a = 0;
  for (size_t pc = 0; pc < program.size(); ++pc) {
    const sock_filter& insn = program[pc];
    if (steps != nullptr) ++*steps;
    switch (insn.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (insn.k == offsetof(seccomp_data, nr)) a = nr;
        else if (insn.k == offsetof(seccomp_data, arch)) a = arch;
        else return false;
        break;
      case BPF_RET | BPF_K: return insn.k == SECCOMP_RET_ALLOW;
      case BPF_JMP | BPF_JA: pc += insn.k; break;
      case BPF_JMP | BPF_JEQ | BPF_K: pc += a == insn.k ? insn.jt : insn.jf; break;
      case BPF_JMP | BPF_JGE | BPF_K: pc += a >= insn.k ? insn.jt : insn.jf; break;
      case BPF_JMP | BPF_JGT | BPF_K: pc += a > insn.k ? insn.jt : insn.jf; break;
      case BPF_JMP | BPF_JSET | BPF_K: pc += (a & insn.k) != 0 ? insn.jt : insn.jf; break;
      case BPF_ALU | BPF_AND | BPF_K: a &= insn.k; break;
      default: return false;
    }
  }
  return false;
}

}  // namespace yinetd::sandbox::testing
