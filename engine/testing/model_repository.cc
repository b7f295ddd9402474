#include "engine/testing/model_repository.h"

#include <filesystem>
#include <fstream>

namespace convd::testing {

namespace fs = std::filesystem;

std::string AddModel(const std::string& repository, const std::string& name,
                     const std::string& network, const std::string& config,
                     const std::vector<std::string>& labels) {
  const fs::path dir = fs::path(repository) / name;
  fs::create_directories(dir / "1");
  fs::copy_file(fs::path("models") / network / "1" / "network.pbtxt", dir / "1" / "network.pbtxt",
                fs::copy_options::overwrite_existing);
  std::ofstream(dir / "config.pbtxt") << config;
  if (!labels.empty()) {
    std::ofstream out(dir / "labels.txt");
    for (const std::string& label : labels) out << label << "\n";
  }
  return dir.string();
}

}  // namespace convd::testing
