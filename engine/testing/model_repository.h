// Writes test models in the repository layout engine/model_loader.h reads,
// from the networks bundled under models/ (tests list //models as data).
#ifndef CONVD_ENGINE_TESTING_MODEL_REPOSITORY_H_
#define CONVD_ENGINE_TESTING_MODEL_REPOSITORY_H_

#include <string>
#include <vector>

namespace convd::testing {

// Adds <repository>/<name>/ with `config` as config.pbtxt and version 1
// holding the bundled models/<network>/1/network.pbtxt. `labels`, when not
// empty, is written to labels.txt. Returns the model's directory.
std::string AddModel(const std::string& repository, const std::string& name,
                     const std::string& network, const std::string& config,
                     const std::vector<std::string>& labels = {});

}  // namespace convd::testing

#endif  // CONVD_ENGINE_TESTING_MODEL_REPOSITORY_H_
