// Metrics: Prometheus text rendering. Names follow Prometheus conventions (counters end in
// _total, histograms expose _bucket/_sum/_count with cumulative buckets).
#include "metrics.h"

#include <cstdio>

namespace haneul::invoker {

namespace {

std::string Escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string Labels(const std::string& function, const std::string& version) {
  return "function=\"" + Escape(function) + "\",version=\"" + Escape(version) + "\"";
}

std::string Number(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.6g", value);
  return buffer;
}

}  // namespace

void Metrics::Histogram::Observe(double value) {
  for (size_t i = 0; i < kBucketsMs.size(); ++i) {
    if (value <= kBucketsMs[i]) ++buckets[i];
  }
  ++count;
  sum += value;
}

std::string Metrics::Render(const Gauges& gauges) const {
  std::string out;
  auto counter = [&](const char* name, const char* help, uint64_t Series::*field) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n";
    for (const auto& [key, series] : series_) {
      out += std::string(name) + "{" + Labels(key.first, key.second) + "} " +
             std::to_string(series.*field) + "\n";
    }
  };
  auto histogram = [&](const char* name, const char* help, Histogram Series::*field) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " histogram\n";
    for (const auto& [key, series] : series_) {
      const Histogram& h = series.*field;
      std::string labels = Labels(key.first, key.second);
      for (size_t i = 0; i < kBucketsMs.size(); ++i) {
        out += std::string(name) + "_bucket{" + labels + ",le=\"" + Number(kBucketsMs[i]) + "\"} " +
               std::to_string(h.buckets[i]) + "\n";
      }
      out += std::string(name) + "_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(h.count) +
             "\n";
      out += std::string(name) + "_sum{" + labels + "} " + Number(h.sum) + "\n";
      out += std::string(name) + "_count{" + labels + "} " + std::to_string(h.count) + "\n";
    }
  };
  counter("haneul_lambda_invocations_total", "Invocations that reached an environment.",
          &Series::invocations);
  counter("haneul_lambda_errors_total", "Invocations that ended in a function error.",
          &Series::errors);
  counter("haneul_lambda_throttles_total", "Invocations refused by a concurrency limit (429).",
          &Series::throttles);
  counter("haneul_lambda_cold_starts_total", "Invocations that started a new environment.",
          &Series::cold_starts);
  counter("haneul_lambda_warm_starts_total", "Invocations served by an idle environment.",
          &Series::warm_starts);
  counter("haneul_lambda_async_events_accepted_total", "Event invocations accepted (202).",
          &Series::async_accepted);
  counter("haneul_lambda_async_retries_total", "Retries of failed Event invocations.",
          &Series::async_retries);
  counter("haneul_lambda_async_events_dropped_total",
          "Event invocations that ended in failure (retries exhausted or too old).",
          &Series::async_dropped);
  histogram("haneul_lambda_duration_milliseconds", "Invocation Duration as in REPORT.",
            &Series::duration);
  histogram("haneul_lambda_init_duration_milliseconds", "Init Duration of cold starts.",
            &Series::init_duration);

  out +=
      "# HELP haneul_lambda_concurrent_executions Invocations in flight.\n"
      "# TYPE haneul_lambda_concurrent_executions gauge\n";
  for (const auto& [function, count] : gauges.concurrent_executions) {
    out += "haneul_lambda_concurrent_executions{function=\"" + Escape(function) + "\"} " +
           std::to_string(count) + "\n";
  }
  out +=
      "# HELP haneul_lambda_account_concurrent_executions Invocations in flight, all "
      "functions.\n# TYPE haneul_lambda_account_concurrent_executions gauge\n"
      "haneul_lambda_account_concurrent_executions " +
      std::to_string(gauges.concurrent_total) + "\n";
  out +=
      "# HELP haneul_lambda_async_queue_depth Event invocations waiting or being delivered.\n"
      "# TYPE haneul_lambda_async_queue_depth gauge\n";
  for (const auto& [function, depth] : gauges.async_depth) {
    out += "haneul_lambda_async_queue_depth{function=\"" + Escape(function) + "\"} " +
           std::to_string(depth) + "\n";
  }
  out +=
      "# HELP haneul_lambda_async_oldest_event_age_seconds Age of the oldest queued event.\n"
      "# TYPE haneul_lambda_async_oldest_event_age_seconds gauge\n"
      "haneul_lambda_async_oldest_event_age_seconds " +
      Number(gauges.async_oldest_age_seconds) + "\n";
  out +=
      "# HELP haneul_lambda_environments Live execution environments.\n"
      "# TYPE haneul_lambda_environments gauge\n"
      "haneul_lambda_environments " +
      std::to_string(gauges.environments_live) + "\n";
  out +=
      "# HELP haneul_lambda_environments_frozen Idle environments frozen by the cgroup "
      "freezer.\n# TYPE haneul_lambda_environments_frozen gauge\n"
      "haneul_lambda_environments_frozen " +
      std::to_string(gauges.environments_frozen) + "\n";
  out +=
      "# HELP haneul_lambda_environment_memory_megabytes Sum of MemorySize of live "
      "environments.\n# TYPE haneul_lambda_environment_memory_megabytes gauge\n"
      "haneul_lambda_environment_memory_megabytes " +
      std::to_string(gauges.memory_in_use_mb) + "\n";
  return out;
}

}  // namespace haneul::invoker
