// The JSON decision for the HTTP hot path: decoding a KServe v2 REST
// inference body (inputs as a JSON "data" array of floats) into floats, with
// the three JSON libraries Debian ships. "convd" is the real code path
// (server/http/infer_json.h on RapidJSON, with every validation); the others
// parse and extract the same floats with no checks, as a lower bound of
// their cost. Results and the decision: bench/RESULTS.md.
//
//   bazel run -c opt //bench:json_bench
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "nlohmann/json.hpp"
#include "rapidjson/document.h"
#include "server/http/infer_json.h"
#include "simdjson.h"

namespace convd {
namespace {

// An infer request for `rows` images of `per_row` floats, printed as %.9g
// (what exact round-tripping clients send).
std::string RequestBody(int rows, int per_row) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::string body = absl::StrCat(R"({"inputs":[{"name":"input","shape":[)", rows, ",", per_row,
                                  R"(],"datatype":"FP32","data":[)");
  for (int i = 0; i < rows * per_row; ++i) {
    absl::StrAppend(&body, i ? "," : "", absl::StrFormat("%.9g", uniform(rng)));
  }
  absl::StrAppend(&body, "]}]}");
  return body;
}

struct Case {
  const char* name;
  int rows, per_row;
};
const Case kCases[] = {{"lenet_batch8", 8, 784}, {"alexnet_batch1", 1, 3 * 224 * 224}};

void Convd(benchmark::State& state, const Case& c) {
  const std::string body = RequestBody(c.rows, c.per_row);
  for (auto _ : state) {
    auto parsed = ParseRestInferRequest(body, std::nullopt, "m", "");
    if (!parsed.ok()) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(parsed->request.raw_input_contents(0).data());
  }
  state.SetBytesProcessed(state.iterations() * body.size());
}

void RapidJsonOnly(benchmark::State& state, const Case& c) {
  const std::string body = RequestBody(c.rows, c.per_row);
  std::vector<float> floats;
  for (auto _ : state) {
    rapidjson::Document document;
    document.Parse(body.data(), body.size());
    floats.clear();
    for (const auto& v : document["inputs"][0]["data"].GetArray()) {
      floats.push_back(static_cast<float>(v.GetDouble()));
    }
    benchmark::DoNotOptimize(floats.data());
  }
  state.SetBytesProcessed(state.iterations() * body.size());
}

void Nlohmann(benchmark::State& state, const Case& c) {
  const std::string body = RequestBody(c.rows, c.per_row);
  std::vector<float> floats;
  for (auto _ : state) {
    const nlohmann::json document = nlohmann::json::parse(body);
    floats.clear();
    for (const auto& v : document["inputs"][0]["data"]) floats.push_back(v.get<float>());
    benchmark::DoNotOptimize(floats.data());
  }
  state.SetBytesProcessed(state.iterations() * body.size());
}

void Simdjson(benchmark::State& state, const Case& c) {
  const std::string body = RequestBody(c.rows, c.per_row);
  const simdjson::padded_string padded(body);
  simdjson::ondemand::parser parser;
  std::vector<float> floats;
  for (auto _ : state) {
    simdjson::ondemand::document document = parser.iterate(padded);
    floats.clear();
    for (double v : document["inputs"].at(0)["data"].get_array()) {
      floats.push_back(static_cast<float>(v));
    }
    benchmark::DoNotOptimize(floats.data());
  }
  state.SetBytesProcessed(state.iterations() * body.size());
}

}  // namespace
}  // namespace convd

int main(int argc, char** argv) {
  for (const convd::Case& c : convd::kCases) {
    benchmark::RegisterBenchmark(absl::StrCat("convd_rapidjson/", c.name).c_str(), convd::Convd, c);
    benchmark::RegisterBenchmark(absl::StrCat("rapidjson_dom/", c.name).c_str(),
                                 convd::RapidJsonOnly, c);
    benchmark::RegisterBenchmark(absl::StrCat("nlohmann/", c.name).c_str(), convd::Nlohmann, c);
    benchmark::RegisterBenchmark(absl::StrCat("simdjson_ondemand/", c.name).c_str(),
                                 convd::Simdjson, c);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
