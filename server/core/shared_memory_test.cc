#include "server/core/shared_memory.h"

#include <sys/resource.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/shared_memory_parameters.h"
#include "server/core/testing/shm_object.h"

namespace convd {
namespace {

using inference::SystemSharedMemoryRegisterRequest;
using ::testing::HasSubstr;

using testing::ShmObject;

SystemSharedMemoryRegisterRequest Registration(const std::string& name, const std::string& key,
                                               uint64_t offset, uint64_t byte_size) {
  SystemSharedMemoryRegisterRequest request;
  request.set_name(name);
  request.set_key(key);
  request.set_offset(offset);
  request.set_byte_size(byte_size);
  return request;
}

TensorParameters Params(const std::string& region, uint64_t byte_size, uint64_t offset = 0) {
  TensorParameters params;
  SetSharedMemory(params, region, byte_size, offset);
  return params;
}

TEST(SharedMemoryRegistryTest, ReadsAndWritesTheRegisteredRangeOfTheObject) {
  ShmObject object(4099);  // odd sizes: nothing is page-aligned
  SharedMemoryRegistry registry(true);
  ASSERT_TRUE(registry.Register(Registration("in", object.key(), 101, 3001)).ok());

  auto status = registry.Status("");
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->regions().size(), 1u);
  const auto& region_status = status->regions().at("in");
  EXPECT_EQ(region_status.name(), "in");
  EXPECT_EQ(region_status.key(), object.key());
  EXPECT_EQ(region_status.offset(), 101u);
  EXPECT_EQ(region_status.byte_size(), 3001u);

  auto ref = registry.Resolve(Params("in", 777, 13), "input 'x'");
  ASSERT_TRUE(ref.ok()) << ref.status();
  ASSERT_TRUE(ref->has_value());
  EXPECT_EQ((*ref)->offset, 13u);
  EXPECT_EQ((*ref)->byte_size, 777u);
  std::string read(777, '\0');
  ASSERT_TRUE((*ref)->region->Read(13, 777, read.data()).ok());
  EXPECT_EQ(read, std::string(object.initial_bytes().data() + 101 + 13, 777));

  const std::string written = "seventeen bytes!!";
  ASSERT_TRUE((*ref)->region->Write(2984, written).ok());  // ends at the region's last byte
  EXPECT_EQ(object.ReadAt(101 + 2984, written.size()), written);
  EXPECT_EQ(object.ReadAt(101 + 3001, 1), std::string(1, object.initial_bytes()[3102]));

  absl::Status past_end = (*ref)->region->Write(2985, written);
  EXPECT_EQ(past_end.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(past_end.message()),
              HasSubstr("17 bytes at offset 2985 do not fit in shared memory region 'in' of "
                        "3001 bytes"));
  EXPECT_EQ((*ref)->region->Read(3000, 2, read.data()).code(), absl::StatusCode::kInvalidArgument);
}

TEST(SharedMemoryRegistryTest, RegistrationErrorsNameTheProblem) {
  ShmObject object(1000);
  SharedMemoryRegistry registry(true);
  struct Case {
    SystemSharedMemoryRegisterRequest request;
    absl::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {Registration("", object.key(), 0, 10), absl::StatusCode::kInvalidArgument, "needs a name"},
      {Registration("r", "", 0, 10), absl::StatusCode::kInvalidArgument, "needs a key"},
      {Registration("r", object.key(), 0, 0), absl::StatusCode::kInvalidArgument, "byte_size 0"},
      {Registration("r", "/convd_no_such_key_4711", 0, 10), absl::StatusCode::kNotFound,
       "cannot open shared memory key '/convd_no_such_key_4711'"},
      {Registration("r", "/dir/escape", 0, 10), absl::StatusCode::kInvalidArgument,
       "cannot open shared memory key '/dir/escape'"},
      {Registration("r", object.key(), 999, 2), absl::StatusCode::kInvalidArgument,
       "2 bytes at offset 999 do not fit in key"},
      {Registration("r", object.key(), 1, ~uint64_t{0}), absl::StatusCode::kInvalidArgument,
       "below 2^62"},
  };
  for (const Case& c : cases) {
    absl::Status status = registry.Register(c.request);
    EXPECT_EQ(status.code(), c.code) << c.request.ShortDebugString() << ": " << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message)) << status;
  }
  EXPECT_TRUE(registry.Status("")->regions().empty());

  ASSERT_TRUE(registry.Register(Registration("r", object.key(), 0, 1000)).ok());
  absl::Status twice = registry.Register(Registration("r", object.key(), 0, 10));
  EXPECT_EQ(twice.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(twice.message()), HasSubstr("'r' is already registered"));
}

TEST(SharedMemoryRegistryTest, DisabledRefusesEverythingAndSaysHowToEnable) {
  ShmObject object(64);
  SharedMemoryRegistry registry(false);
  const absl::Status statuses[] = {
      registry.Register(Registration("r", object.key(), 0, 64)),
      registry.Unregister(""),
      registry.Status("").status(),
      registry.Resolve(Params("r", 64), "input 'x'").status(),
  };
  for (const absl::Status& status : statuses) {
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("--allow-client-shm"));
  }
  // Tensors that name no region are none of its business.
  auto none = registry.Resolve({}, "input 'x'");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(SharedMemoryRegistryTest, ResolveChecksEveryParameter) {
  ShmObject object(256);
  SharedMemoryRegistry registry(true);
  ASSERT_TRUE(registry.Register(Registration("r", object.key(), 0, 256)).ok());

  auto unsigned_size = Params("r", 0);
  unsigned_size["shared_memory_byte_size"].set_uint64_param(256);
  auto ok = registry.Resolve(unsigned_size, "input 'x'");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)->byte_size, 256u);

  auto no_region = Params("r", 8);
  no_region.erase("shared_memory_region");
  auto no_size = Params("r", 8);
  no_size.erase("shared_memory_byte_size");
  auto region_not_string = Params("r", 8);
  region_not_string["shared_memory_region"].set_int64_param(3);
  auto negative_offset = Params("r", 8);
  negative_offset["shared_memory_offset"].set_int64_param(-1);
  auto size_as_string = Params("r", 8);
  size_as_string["shared_memory_byte_size"].set_string_param("8");
  struct Case {
    TensorParameters params;
    absl::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {no_region, absl::StatusCode::kInvalidArgument, "but no shared_memory_region"},
      {no_size, absl::StatusCode::kInvalidArgument, "but no shared_memory_byte_size"},
      {region_not_string, absl::StatusCode::kInvalidArgument, "must be a string"},
      {negative_offset, absl::StatusCode::kInvalidArgument,
       "shared_memory_offset must be a non-negative integer"},
      {size_as_string, absl::StatusCode::kInvalidArgument,
       "shared_memory_byte_size must be a non-negative integer"},
      {Params("elsewhere", 8), absl::StatusCode::kNotFound,
       "no shared memory region named 'elsewhere'"},
      {Params("r", 200, 57), absl::StatusCode::kInvalidArgument,
       "200 bytes at offset 57 do not fit in shared memory region 'r' of 256 bytes"},
  };
  for (const Case& c : cases) {
    auto result = registry.Resolve(c.params, "input 'x'");
    EXPECT_EQ(result.status().code(), c.code) << result.status();
    EXPECT_THAT(std::string(result.status().message()), HasSubstr("input 'x'"));
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(c.message));
  }
}

TEST(SharedMemoryRegistryTest, AShrunkObjectFailsTheAccessNotTheProcess) {
  ShmObject object(8192);
  SharedMemoryRegistry registry(true);
  ASSERT_TRUE(registry.Register(Registration("r", object.key(), 4096, 4096)).ok());
  auto ref = registry.Resolve(Params("r", 4096), "input 'x'");
  ASSERT_TRUE(ref.ok());
  object.Truncate(4096 + 100);  // a mapping would raise SIGBUS past here

  std::string buffer(4096, '\0');
  absl::Status read = (*ref)->region->Read(0, 4096, buffer.data());
  EXPECT_EQ(read.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(read.message()), HasSubstr("has shrunk below the registered region"));
  EXPECT_TRUE((*ref)->region->Read(0, 100, buffer.data()).ok());  // what is left still reads
  EXPECT_EQ(buffer.substr(0, 100), std::string(object.initial_bytes().data() + 4096, 100));

  absl::Status write = (*ref)->region->Write(50, std::string(51, 'x'));
  EXPECT_THAT(std::string(write.message()), HasSubstr("has shrunk"));
  EXPECT_TRUE((*ref)->region->Write(50, std::string(50, 'x')).ok());
  EXPECT_EQ(object.size(), 4096u + 100) << "a write must not grow the client's object";
}

TEST(SharedMemoryRegistryTest, UnregisterIsIdempotentAndInFlightUsersKeepTheirRegion) {
  ShmObject a(64), b(64);
  SharedMemoryRegistry registry(true);
  ASSERT_TRUE(registry.Register(Registration("a", a.key(), 0, 64)).ok());
  ASSERT_TRUE(registry.Register(Registration("b", b.key(), 0, 64)).ok());
  auto in_flight = registry.Resolve(Params("a", 64), "output 'y'");
  ASSERT_TRUE(in_flight.ok());

  ASSERT_TRUE(registry.Unregister("a").ok());
  EXPECT_TRUE(registry.Unregister("a").ok());
  EXPECT_TRUE(registry.Unregister("never_registered").ok());
  EXPECT_EQ(registry.Status("a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(registry.Status("b")->regions().size(), 1u);
  EXPECT_EQ(registry.Resolve(Params("a", 64), "input 'x'").status().code(),
            absl::StatusCode::kNotFound);
  // The request that resolved "a" before it went still writes to it.
  ASSERT_TRUE((*in_flight)->region->Write(0, "done").ok());
  EXPECT_EQ(a.ReadAt(0, 4), "done");

  ASSERT_TRUE(registry.Unregister("").ok());
  EXPECT_TRUE(registry.Status("")->regions().empty());
  // A name is free again once unregistered.
  EXPECT_TRUE(registry.Register(Registration("a", b.key(), 0, 32)).ok());
}

TEST(SharedMemoryRegistryTest, RefusesRegionsBeyondItsLimit) {
  rlimit files;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &files), 0);
  const rlim_t needed = SharedMemoryRegistry::kMaxRegions + 64;
  if (files.rlim_cur < needed) {
    if (files.rlim_max < needed) GTEST_SKIP() << "needs " << needed << " file descriptors";
    files.rlim_cur = needed;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &files), 0);
  }
  ShmObject object(16);
  SharedMemoryRegistry registry(true);
  for (size_t i = 0; i < SharedMemoryRegistry::kMaxRegions; ++i) {
    ASSERT_TRUE(registry.Register(Registration(absl::StrCat("r", i), object.key(), 0, 16)).ok());
  }
  absl::Status one_more = registry.Register(Registration("last", object.key(), 0, 16));
  EXPECT_EQ(one_more.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(one_more.message()), HasSubstr("1024 shared memory regions"));
  ASSERT_TRUE(registry.Unregister("r7").ok());
  EXPECT_TRUE(registry.Register(Registration("last", object.key(), 0, 16)).ok());
}

}  // namespace
}  // namespace convd
