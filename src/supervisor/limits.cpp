#include "supervisor/limits.h"

#include <algorithm>
#include <iterator>

namespace yinetd::supervisor {
namespace {

constexpr auto kSweepEvery = std::chrono::seconds(1);

}  // namespace

std::string_view ReasonName(RefuseReason reason) {
  switch (reason) {
    case RefuseReason::kDenied: return "denied";
    case RefuseReason::kMaxChildren: return "max_children";
    case RefuseReason::kMaxConnections: return "max_connections";
    case RefuseReason::kMaxPerSource: return "max_per_source";
    case RefuseReason::kMaxRatePerSource: return "max_rate_per_source";
    case RefuseReason::kMaxRate: return "max_rate";
  }
  return "unknown";
}

// A burst of a second's worth, and at least one whole connection: a rate
// below 1 (one every few seconds) would otherwise never admit anyone.
double BurstFor(double rate) { return std::max(rate, 1.0); }

TokenBucket::TokenBucket(double rate, double burst, Clock::time_point now)
    : rate_(rate), burst_(burst), tokens_(burst), last_(now) {}

void TokenBucket::Refill(Clock::time_point now) {
  if (now <= last_) return;
  double seconds = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + seconds * rate_);
  last_ = now;
}

bool TokenBucket::Ready(Clock::time_point now) {
  Refill(now);
  return tokens_ >= 1;
}

bool TokenBucket::Full(Clock::time_point now) {
  Refill(now);
  return tokens_ >= burst_;
}

SourceKey SourceOf(const std::optional<net::IpAddress>& ip, const config::Limits& limits) {
  if (!ip) return std::nullopt;
  return ip->Masked(ip->v6 ? limits.source_prefix_v6 : limits.source_prefix_v4);
}

bool ServiceGate::Full(int running) const {
  return limits_.max_connections && running >= *limits_.max_connections;
}

std::optional<RefuseReason> ServiceGate::Check(const SourceKey& source, int running, Clock::time_point now) {
  DropFullBuckets(now);
  if (Full(running)) return RefuseReason::kMaxConnections;
  if (source && limits_.max_per_source) {
    auto it = per_source_.find(*source);
    if (it != per_source_.end() && it->second >= *limits_.max_per_source) return RefuseReason::kMaxPerSource;
  }
  TokenBucket* source_bucket = nullptr;
  if (source && limits_.max_rate_per_source) {
    double rate = *limits_.max_rate_per_source;
    source_bucket = &source_buckets_.try_emplace(*source, rate, BurstFor(rate), now).first->second;
    if (!source_bucket->Ready(now)) return RefuseReason::kMaxRatePerSource;
  }
  if (limits_.max_rate) {
    if (!bucket_) bucket_.emplace(*limits_.max_rate, BurstFor(*limits_.max_rate), now);
    if (!bucket_->Ready(now)) return RefuseReason::kMaxRate;
    bucket_->Take();
  }
  if (source_bucket) source_bucket->Take();
  return std::nullopt;
}

void ServiceGate::CountIn(const SourceKey& source) {
  // Counted whether or not max_per_source is set now: a reload may set it
  // while these children run.
  if (source) per_source_[*source]++;
}

void ServiceGate::CountOut(const SourceKey& source) {
  if (!source) return;
  auto it = per_source_.find(*source);
  if (it == per_source_.end()) return;
  if (--it->second <= 0) per_source_.erase(it);
}

int ServiceGate::CountFor(const net::IpAddress& source) const {
  auto it = per_source_.find(source);
  return it == per_source_.end() ? 0 : it->second;
}

void ServiceGate::Reconfigure(const config::Limits& limits, bool keep_rate_bucket, bool keep_source_buckets) {
  limits_ = limits;
  if (!keep_rate_bucket) bucket_.reset();
  if (!keep_source_buckets) source_buckets_.clear();
}

void ServiceGate::DropFullBuckets(Clock::time_point now) {
  if (now - last_sweep_ < kSweepEvery) return;
  last_sweep_ = now;
  for (auto it = source_buckets_.begin(); it != source_buckets_.end();) {
    it = it->second.Full(now) ? source_buckets_.erase(it) : std::next(it);
  }
}

}  // namespace yinetd::supervisor
