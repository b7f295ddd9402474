// dynamic_batching's priority levels in a model config: the checks
// NormalizeModelConfig makes, which queue policy a level gets, and the
// level a request's "priority" parameter resolves to.
#include "engine/model_config.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace convd {
namespace {

absl::StatusOr<inference::ModelConfig> Config(const std::string& batching) {
  auto config = ParseModelConfig(absl::StrCat(R"pb(
                                                max_batch_size: 8
                                                input {
                                                  name: "image"
                                                  dims: [ 1, 28, 28 ]
                                                }
                                                output {
                                                  name: "scores"
                                                  dims: [ 10 ]
                                                }
                                                dynamic_batching {)pb",
                                              batching, " }"));
  if (!config.ok()) return config.status();
  if (absl::Status status = NormalizeModelConfig("model", *config); !status.ok()) return status;
  return config;
}

TEST(PriorityConfigTest, EveryMistakeIsRefusedByName) {
  const struct {
    std::string batching;
    std::string message;
  } cases[] = {
      {"priority_levels: 3", "default_priority_level must be in [1, priority_levels 3]; got 0"},
      {"priority_levels: 3 default_priority_level: 4",
       "default_priority_level must be in [1, priority_levels 3]; got 4"},
      {"priority_levels: 3 default_priority_level: 1 "
       "priority_queue_policy { key: 4 value { max_queue_size: 1 } }",
       "priority_queue_policy names level 4, outside [1, priority_levels 3]"},
      {"priority_levels: 3 default_priority_level: 1 "
       "priority_queue_policy { key: 0 value { max_queue_size: 1 } }",
       "priority_queue_policy names level 0, outside [1, priority_levels 3]"},
      {"default_priority_level: 1",
       "default_priority_level and priority_queue_policy need "
       "priority_levels"},
      {"priority_queue_policy { key: 1 value { max_queue_size: 1 } }",
       "default_priority_level and priority_queue_policy need priority_levels"},
  };
  for (const auto& c : cases) {
    auto config = Config(c.batching);
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << c.batching;
    EXPECT_NE(config.status().message().find(c.message), std::string::npos)
        << config.status() << "\nwanted: " << c.message;
    EXPECT_NE(config.status().message().find("model"), std::string::npos) << config.status();
  }
}

TEST(PriorityConfigTest, EachLevelHasItsPolicyOrTheDefault) {
  auto config = Config(R"pb(
    priority_levels: 3
    default_priority_level: 2
    default_queue_policy { max_queue_size: 7 default_timeout_microseconds: 100 }
    priority_queue_policy {
      key: 1
      value { max_queue_size: 2 timeout_action: DELAY default_timeout_microseconds: 50 }
    }
  )pb");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(QueuePolicy(*config, 1).max_queue_size(), 2u);
  EXPECT_EQ(QueuePolicy(*config, 1).timeout_action(), inference::ModelQueuePolicy::DELAY);
  EXPECT_EQ(QueuePolicy(*config, 1).default_timeout_microseconds(), 50u);
  for (uint64_t level : {2, 3}) {
    EXPECT_EQ(QueuePolicy(*config, level).max_queue_size(), 7u) << level;
    EXPECT_EQ(QueuePolicy(*config, level).timeout_action(), inference::ModelQueuePolicy::REJECT);
  }
}

TEST(PriorityConfigTest, ARequestsPriorityResolvesToALevel) {
  auto config = Config("priority_levels: 3 default_priority_level: 2");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(*RequestPriorityLevel(*config, 0), 2u);  // none given: the default
  EXPECT_EQ(*RequestPriorityLevel(*config, 1), 1u);
  EXPECT_EQ(*RequestPriorityLevel(*config, 3), 3u);
  const absl::Status beyond = RequestPriorityLevel(*config, 4).status();
  EXPECT_EQ(beyond.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(beyond.message(),
            "priority 4 is outside [1, priority_levels 3] (0 or none: the default, 2)");

  // Without levels every request is at the one level, whatever it asks.
  auto flat = Config("max_queue_delay_microseconds: 100");
  ASSERT_TRUE(flat.ok()) << flat.status();
  for (uint64_t requested : {0, 1, 9}) EXPECT_EQ(*RequestPriorityLevel(*flat, requested), 0u);
}

}  // namespace
}  // namespace convd
