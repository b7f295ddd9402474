// Triton's log settings over convd's log: what each name reads and sets,
// the lines that are then written, and refusals that change nothing.
#include "server/core/log_settings.h"

#include <atomic>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "server/log.h"

namespace convd {
namespace {

using Value = inference::LogSettingsRequest::SettingValue;

class LogSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override { SetLogLevel(LogLevel::kInfo); }
  void TearDown() override { SetLogLevel(LogLevel::kInfo); }
};

inference::LogSettingsRequest Request(std::initializer_list<std::pair<std::string, Value>> values) {
  inference::LogSettingsRequest request;
  for (const auto& [name, value] : values) (*request.mutable_settings())[name] = value;
  return request;
}
Value Bool(bool b) {
  Value value;
  value.set_bool_param(b);
  return value;
}
Value Uint(uint32_t u) {
  Value value;
  value.set_uint32_param(u);
  return value;
}
Value Text(const std::string& s) {
  Value value;
  value.set_string_param(s);
  return value;
}

TEST_F(LogSettingsTest, ReportsEverySettingWithItsType) {
  const auto settings = LogSettingsAsResponse().settings();
  ASSERT_EQ(settings.size(), 6u);
  EXPECT_EQ(settings.at("log_file").string_param(), "");
  EXPECT_TRUE(settings.at("log_info").bool_param());
  EXPECT_TRUE(settings.at("log_warning").bool_param());
  EXPECT_TRUE(settings.at("log_error").bool_param());
  EXPECT_EQ(settings.at("log_verbose_level").parameter_choice_case(), Value::kUint32Param);
  EXPECT_EQ(settings.at("log_verbose_level").uint32_param(), 0u);
  EXPECT_EQ(settings.at("log_format").string_param(), "ISO8601");
}

TEST_F(LogSettingsTest, ChangesTheLinesWritten) {
  EXPECT_FALSE(LogEnabled(LogLevel::kDebug));
  ASSERT_TRUE(UpdateLogSettings(Request({{"log_verbose_level", Uint(2)}})).ok());
  EXPECT_TRUE(LogEnabled(LogLevel::kDebug));
  EXPECT_EQ(LogSettingsAsResponse().settings().at("log_verbose_level").uint32_param(), 2u);
  ASSERT_TRUE(UpdateLogSettings(Request({{"log_info", Bool(false)},
                                         {"log_warning", Bool(false)},
                                         {"log_verbose_level", Uint(0)}}))
                  .ok());
  EXPECT_FALSE(LogEnabled(LogLevel::kDebug));
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_FALSE(LogEnabled(LogLevel::kWarning));
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  ASSERT_TRUE(UpdateLogSettings(Request({{"log_error", Bool(false)}})).ok());
  EXPECT_FALSE(LogEnabled(LogLevel::kError));
  EXPECT_FALSE(LogSettingsAsResponse().settings().at("log_error").bool_param());
  // The values convd has are accepted as no-ops.
  EXPECT_TRUE(
      UpdateLogSettings(Request({{"log_file", Text("")}, {"log_format", Text("ISO8601")}})).ok());
  EXPECT_TRUE(UpdateLogSettings(inference::LogSettingsRequest()).ok());
}

TEST_F(LogSettingsTest, LogLevelFlagMapsToTheSettings) {
  SetLogLevel(LogLevel::kWarning);
  LogSettings settings = CurrentLogSettings();
  EXPECT_FALSE(settings.info);
  EXPECT_TRUE(settings.warning && settings.error);
  EXPECT_EQ(settings.verbose_level, 0u);
  SetLogLevel(LogLevel::kError);
  settings = CurrentLogSettings();
  EXPECT_FALSE(settings.info || settings.warning);
  EXPECT_TRUE(settings.error);
  SetLogLevel(LogLevel::kDebug);
  settings = CurrentLogSettings();
  EXPECT_TRUE(settings.info && settings.warning && settings.error);
  EXPECT_EQ(settings.verbose_level, 1u);
}

TEST_F(LogSettingsTest, RefusesWhatItCannotTakeAndChangesNothing) {
  const struct {
    inference::LogSettingsRequest request;
    std::string message;
  } cases[] = {
      {Request({{"log_info", Bool(false)}, {"log_colour", Bool(true)}}),
       "unknown log setting 'log_colour'"},
      {Request({{"log_info", Bool(false)}, {"log_warning", Text("yes")}}),
       "'log_warning' takes a boolean"},
      {Request({{"log_info", Bool(false)}, {"log_verbose_level", Bool(true)}}),
       "'log_verbose_level' takes a non-negative integer"},
      {Request({{"log_info", Bool(false)}, {"log_error", Value()}}), "'log_error' has no value"},
      {Request({{"log_info", Bool(false)}, {"log_file", Text("/tmp/convd.log")}}),
       "convd logs to stderr"},
      {Request({{"log_info", Bool(false)}, {"log_format", Text("default")}}),
       "writes 'ISO8601' only; got 'default'"},
  };
  for (const auto& c : cases) {
    const absl::Status status = UpdateLogSettings(c.request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_NE(status.message().find(c.message), std::string::npos) << status;
    EXPECT_TRUE(LogEnabled(LogLevel::kInfo)) << "a refused request changed log_info: " << status;
  }
}

TEST_F(LogSettingsTest, ConcurrentUpdatesLoseNoneOfEachOthersChanges) {
  // Each thread changes only its own setting, and before each change finds
  // it as it left it: an update of the other setting that read the
  // settings before this thread's change and wrote them after undoes it.
  constexpr int kUpdates = 300000;
  std::atomic<int> undone{0};
  auto toggle = [&](const std::string& name, auto value_of, auto read) {
    for (int i = 0; i < kUpdates; ++i) {
      if (i > 0 && !read(i - 1)) ++undone;
      ASSERT_TRUE(UpdateLogSettings(Request({{name, value_of(i)}})).ok());
    }
  };
  std::thread info([&] {
    toggle(
        "log_info", [](int i) { return Bool(i % 2 == 0); },
        [](int i) { return CurrentLogSettings().info == (i % 2 == 0); });
  });
  std::thread verbose([&] {
    toggle(
        "log_verbose_level", [](int i) { return Uint(i % 3); },
        [](int i) { return CurrentLogSettings().verbose_level == static_cast<uint32_t>(i % 3); });
  });
  info.join();
  verbose.join();
  EXPECT_EQ(undone.load(), 0);
}

}  // namespace
}  // namespace convd
