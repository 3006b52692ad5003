// Metrics: cumulative histogram buckets and the Prometheus text exposition format.
#include "metrics.h"

#include <gtest/gtest.h>

namespace haneul::invoker {
namespace {

TEST(Metrics, HistogramBucketsAreCumulative) {
  Metrics::Histogram histogram;
  histogram.Observe(0.5);
  histogram.Observe(7);
  histogram.Observe(20000);
  EXPECT_EQ(histogram.count, 3u);
  EXPECT_DOUBLE_EQ(histogram.sum, 20007.5);
  EXPECT_EQ(histogram.buckets[0], 1u);      // le 1
  EXPECT_EQ(histogram.buckets[2], 2u);      // le 10
  EXPECT_EQ(histogram.buckets.back(), 2u);  // le 10000: the 20 s one only in +Inf
}

TEST(Metrics, RendersLabelledSeriesInPrometheusText) {
  Metrics metrics;
  auto& series = metrics.Of("fn", "$LATEST");
  series.invocations = 2;
  series.throttles = 1;
  series.duration.Observe(3);
  Metrics::Gauges gauges;
  gauges.concurrent_executions["fn"] = 1;
  gauges.async_depth["fn"] = 4;
  std::string text = metrics.Render(gauges);
  EXPECT_NE(text.find("# TYPE haneul_lambda_invocations_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("haneul_lambda_invocations_total{function=\"fn\",version=\"$LATEST\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("haneul_lambda_throttles_total{function=\"fn\",version=\"$LATEST\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("haneul_lambda_duration_milliseconds_bucket{function=\"fn\",version="
                      "\"$LATEST\",le=\"5\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("haneul_lambda_duration_milliseconds_bucket{function=\"fn\",version="
                      "\"$LATEST\",le=\"+Inf\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("haneul_lambda_concurrent_executions{function=\"fn\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("haneul_lambda_async_queue_depth{function=\"fn\"} 4\n"), std::string::npos);
}

TEST(Metrics, EscapesLabelValues) {
  Metrics metrics;
  metrics.Of("a\"b", "1").invocations = 1;
  std::string text = metrics.Render({});
  EXPECT_NE(text.find("{function=\"a\\\"b\",version=\"1\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace haneul::invoker
