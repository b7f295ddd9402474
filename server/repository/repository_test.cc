// ModelRepository::Poll against a real repository on disk: what appears is
// loaded, what changes is reloaded (unchanged versions kept as they are),
// what leaves is forgotten, and what is still being written waits.
#include "server/repository/repository.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

#include "absl/strings/match.h"
#include "engine/model_autocomplete.h"
#include "engine/testing/model_repository.h"
#include "gtest/gtest.h"
#include "server/core/testing/lenet_service.h"
#include "server/repository/repository_poller.h"

namespace convd {
namespace {

namespace fs = std::filesystem;

using testing::LenetRepository;

// Short, so that the many polls here do not wait out the default second;
// the test of files still being written keeps the default.
constexpr std::chrono::milliseconds kTestSettleTime{100};

// Files written by a test are settled once the settle time has passed.
int PollOnceSettled(ModelRepository& repository,
                    std::chrono::milliseconds settle_time = kTestSettleTime) {
  std::this_thread::sleep_for(settle_time + std::chrono::milliseconds(20));
  return repository.Poll();
}

std::vector<int64_t> ServedVersions(const ModelRepository& repository, const std::string& name) {
  std::vector<int64_t> numbers;
  auto versions = repository.Versions(name);
  if (!versions.ok()) return numbers;
  for (const auto& model : *versions) numbers.push_back(model->version());
  return numbers;
}

// A copy of lenet's version 1 as version `version`, with other weights.
void AddVersion(const std::string& root, int version) {
  const fs::path model = fs::path(root) / "lenet";
  fs::create_directories(model / std::to_string(version));
  std::ifstream in(model / "1" / "network.pbtxt");
  std::ofstream out(model / std::to_string(version) / "network.pbtxt");
  out << in.rdbuf() << "\ninit_seed: " << version << "\n";
}

// Rewrites lenet's config with `max_batch_size: N` in place of the one
// it has.
void SetMaxBatchSize(const std::string& root, int size) {
  const fs::path path = fs::path(root) / "lenet" / "config.pbtxt";
  std::stringstream read;
  read << std::ifstream(path).rdbuf();
  std::string text = read.str();
  constexpr std::string_view kField = "max_batch_size: ";
  const size_t start = text.find(kField) + kField.size();
  const size_t end = text.find_first_not_of("-0123456789", start);
  text.replace(start, end - start, std::to_string(size));
  std::ofstream(path) << text;
}

const ModelRepository::IndexEntry* Find(const std::vector<ModelRepository::IndexEntry>& index,
                                        const std::string& name) {
  for (const auto& entry : index) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

// Loaded from files written just now, and polled once they settle: that
// first poll reloads when the start's snapshot was taken within the settle
// time of the writes (it could have missed one).
class RepositoryPollTest : public ::testing::Test {
 protected:
  void Start(const std::string& more_config = "",
             std::chrono::milliseconds settle_time = kTestSettleTime) {
    options_ = LenetRepository(pool_, more_config);
    options_.files_settle_time = settle_time;
    repository_ = std::make_unique<ModelRepository>(options_);
    ASSERT_EQ(repository_->LoadAll(), 0);
    ASSERT_LE(PollOnceSettled(*repository_, settle_time), 1);
    ASSERT_EQ(repository_->Poll(), 0);
  }
  std::shared_ptr<ServedModel> Lenet(const std::string& version = "") {
    auto model = repository_->Get("lenet", version);
    EXPECT_TRUE(model.ok()) << model.status();
    return model.ok() ? *model : nullptr;
  }

  ThreadPool pool_{2};
  RepositoryOptions options_;
  std::unique_ptr<ModelRepository> repository_;
};

TEST_F(RepositoryPollTest, NothingChangedLeavesTheLoadAsItIs) {
  Start();
  const std::shared_ptr<ServedModel> before = Lenet();
  EXPECT_EQ(PollOnceSettled(*repository_), 0);
  EXPECT_EQ(Lenet(), before);
}

TEST_F(RepositoryPollTest, ANewVersionReplacesTheLatest) {
  Start();
  const std::shared_ptr<ServedModel> one = Lenet();
  AddVersion(options_.root, 2);
  EXPECT_EQ(PollOnceSettled(*repository_), 1);
  EXPECT_EQ(ServedVersions(*repository_, "lenet"), (std::vector<int64_t>{2}));
  EXPECT_EQ(repository_->Get("lenet", "1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(Lenet("2")->load_id(), one->load_id());
  EXPECT_TRUE(repository_->AllReady());
}

TEST_F(RepositoryPollTest, UnchangedVersionsKeepServingAsTheyAre) {
  Start("version_policy { all {} }");
  const std::shared_ptr<ServedModel> one = Lenet("1");
  AddVersion(options_.root, 2);
  AddVersion(options_.root, 3);
  EXPECT_EQ(PollOnceSettled(*repository_), 1);
  EXPECT_EQ(ServedVersions(*repository_, "lenet"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(Lenet("1"), one);  // the same instances, not a reload
  const std::shared_ptr<ServedModel> two = Lenet("2");

  // Version 3's files change: only it reloads.
  AddVersion(options_.root, 3);
  EXPECT_EQ(PollOnceSettled(*repository_), 1);
  EXPECT_EQ(Lenet("1"), one);
  EXPECT_EQ(Lenet("2"), two);
  EXPECT_EQ(ServedVersions(*repository_, "lenet"), (std::vector<int64_t>{1, 2, 3}));

  // A version removed stops serving; the others stay.
  fs::remove_all(fs::path(options_.root) / "lenet" / "3");
  EXPECT_EQ(PollOnceSettled(*repository_), 1);
  EXPECT_EQ(ServedVersions(*repository_, "lenet"), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Lenet("1"), one);
}

TEST_F(RepositoryPollTest, AChangedConfigReloadsEveryVersion) {
  Start("version_policy { all {} }");
  AddVersion(options_.root, 2);
  ASSERT_EQ(PollOnceSettled(*repository_), 1);
  const std::shared_ptr<ServedModel> one = Lenet("1"), two = Lenet("2");
  EXPECT_EQ(one->config().max_batch_size(), 8);
  SetMaxBatchSize(options_.root, 4);
  EXPECT_EQ(PollOnceSettled(*repository_), 1);
  EXPECT_NE(Lenet("1"), one);
  EXPECT_NE(Lenet("2"), two);
  EXPECT_EQ(Lenet("1")->config().max_batch_size(), 4);
  EXPECT_EQ(Lenet("2")->config().max_batch_size(), 4);
}

TEST_F(RepositoryPollTest, AFailedReloadKeepsServingAndWaitsForTheNextChange) {
  Start();
  const std::shared_ptr<ServedModel> before = Lenet();
  SetMaxBatchSize(options_.root, -3);
  EXPECT_EQ(PollOnceSettled(*repository_), 1);
  EXPECT_EQ(Lenet(), before);
  const std::vector<ModelRepository::IndexEntry> index = repository_->Index();
  const auto* entry = Find(index, "lenet");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->state, ModelRepository::State::kReady);
  EXPECT_TRUE(absl::StrContains(entry->reason, "reload failed, still serving the previous load"))
      << entry->reason;
  EXPECT_TRUE(absl::StrContains(entry->reason, "max_batch_size")) << entry->reason;
  EXPECT_EQ(PollOnceSettled(*repository_), 0);  // the same broken files: not tried again

  SetMaxBatchSize(options_.root, 2);
  EXPECT_EQ(PollOnceSettled(*repository_), 1);
  EXPECT_EQ(Lenet()->config().max_batch_size(), 2);
  EXPECT_TRUE(repository_->Index().at(0).reason.empty());
}

TEST_F(RepositoryPollTest, ModelsThatAppearLoadAndModelsThatLeaveAreForgotten) {
  Start();
  const std::string config = R"pb(
    max_batch_size: 2
    input {
      name: "input"
      dims: [ 1, 28, 28 ]
    }
    output {
      name: "prob"
      dims: [ 10 ]
    }
  )pb";
  testing::AddModel(options_.root, "second", "lenet5", config);
  testing::AddModel(options_.root, "broken", "lenet5", "max_batch_size: -1");
  EXPECT_EQ(PollOnceSettled(*repository_), 2);
  EXPECT_TRUE(repository_->Get("second", "").ok());
  std::vector<ModelRepository::IndexEntry> index = repository_->Index();
  const auto* broken = Find(index, "broken");
  ASSERT_NE(broken, nullptr);
  EXPECT_EQ(broken->state, ModelRepository::State::kUnavailable);
  EXPECT_FALSE(repository_->AllReady());  // a model that failed to load

  // Without its config.pbtxt, "second" is still a model: its config is
  // completed from the network (engine/model_autocomplete.h).
  fs::remove_all(fs::path(options_.root) / "broken");
  fs::remove(fs::path(options_.root) / "second" / "config.pbtxt");
  EXPECT_EQ(PollOnceSettled(*repository_), 2);
  ASSERT_TRUE(repository_->Get("second", "").ok());
  EXPECT_EQ((*repository_->Get("second", ""))->config().max_batch_size(),
            kAutoCompleteMaxBatchSize);
  index = repository_->Index();
  EXPECT_EQ(Find(index, "broken"), nullptr);
  EXPECT_TRUE(repository_->AllReady());

  // Without its version folder too, it is no longer a model.
  fs::remove_all(fs::path(options_.root) / "second" / "1");
  EXPECT_EQ(PollOnceSettled(*repository_), 1);
  EXPECT_EQ(repository_->Get("second", "").status().code(), absl::StatusCode::kNotFound);
  index = repository_->Index();
  EXPECT_EQ(Find(index, "second"), nullptr);
  EXPECT_TRUE(repository_->Get("lenet", "").ok());
}

TEST(RepositoryWithoutAutoCompleteTest, AModelWithoutConfigIsNoModel) {
  ThreadPool pool(2);
  RepositoryOptions options = LenetRepository(pool);
  options.auto_complete_config = false;
  ModelRepository repository(options);
  testing::AddModel(options.root, "bare", "lenet5", "");
  fs::remove(fs::path(options.root) / "bare" / "config.pbtxt");
  EXPECT_EQ(repository.LoadAll(), 0);
  EXPECT_TRUE(repository.Get("lenet", "").ok());
  EXPECT_EQ(repository.Get("bare", "").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(repository.Load("bare").code(), absl::StatusCode::kNotFound);
  for (const auto& entry : repository.Index()) EXPECT_NE(entry.name, "bare");

  // The same directory is a model once auto-complete is on.
  options.auto_complete_config = true;
  ModelRepository completing(options);
  EXPECT_EQ(completing.LoadAll(), 0);
  EXPECT_TRUE(completing.Get("bare", "").ok());
}

TEST_F(RepositoryPollTest, FilesStillBeingWrittenWaitForALaterPoll) {
  // The default settle time: the poll right after the write must fall
  // within it, on a loaded machine too.
  Start("", ModelFiles::kDefaultSettleTime);
  testing::AddModel(options_.root, "copying", "lenet5",
                    "max_batch_size: 2 input { name: \"input\" dims: [ 1, 28, 28 ] } "
                    "output { name: \"prob\" dims: [ 10 ] }");
  EXPECT_EQ(repository_->Poll(), 0);  // written just now
  EXPECT_EQ(repository_->Get("copying", "").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(PollOnceSettled(*repository_, ModelFiles::kDefaultSettleTime), 1);
  EXPECT_TRUE(repository_->Get("copying", "").ok());
}

// The poller's thread against readers (run under TSan too): every read
// finds a served version while versions come and go underneath.
TEST_F(RepositoryPollTest, ThePollersChangesRaceNoReader) {
  Start("version_policy { latest { num_versions: 2 } }");
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, misses{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        auto model = repository_->Get("lenet", "");
        if (!model.ok() || (*model)->config().name() != "lenet") ++misses;
        if (repository_->Index().empty() || !repository_->AllReady()) ++misses;
        ++reads;
      }
    });
  }
  {
    RepositoryPoller poller(repository_.get(), std::chrono::milliseconds(20));
    AddVersion(options_.root, 2);
    AddVersion(options_.root, 3);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (ServedVersions(*repository_, "lenet") != std::vector<int64_t>{2, 3} &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }  // the poller stops here
  stop = true;
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(ServedVersions(*repository_, "lenet"), (std::vector<int64_t>{2, 3}));
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(misses.load(), 0);
}

}  // namespace
}  // namespace convd
