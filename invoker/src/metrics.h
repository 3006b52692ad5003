// Metrics: the invoker's counters and histograms, rendered in the Prometheus text exposition
// format (version 0.0.4) for GET /metrics. Series are labelled by function and version.
// Not thread-safe: loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace haneul::invoker {

class Metrics {
 public:
  // Upper bounds (ms) of the duration histograms' buckets; +Inf is implicit.
  static constexpr std::array<double, 12> kBucketsMs = {1,   5,   10,   25,   50,   100,
                                                        250, 500, 1000, 2500, 5000, 10000};

  struct Histogram {
    std::array<uint64_t, kBucketsMs.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
    void Observe(double value);
  };

  struct Series {
    uint64_t invocations = 0;
    uint64_t errors = 0;
    uint64_t throttles = 0;
    uint64_t cold_starts = 0;
    uint64_t warm_starts = 0;
    uint64_t async_accepted = 0;
    uint64_t async_retries = 0;
    uint64_t async_dropped = 0;  // sent to the failure destination or discarded
    Histogram duration;
    Histogram init_duration;
  };

  Series& Of(const std::string& function, const std::string& version) {
    return series_[{function, version}];
  }

  // Gauges are sampled by the caller at render time.
  struct Gauges {
    std::map<std::string, int> concurrent_executions;  // per function
    int concurrent_total = 0;
    std::map<std::string, size_t> async_depth;  // per function
    double async_oldest_age_seconds = 0;
    size_t environments_live = 0;
    size_t environments_frozen = 0;
    int64_t memory_in_use_mb = 0;
  };

  std::string Render(const Gauges& gauges) const;

 private:
  std::map<std::pair<std::string, std::string>, Series> series_;
};

}  // namespace haneul::invoker
