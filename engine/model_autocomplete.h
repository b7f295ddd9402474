// Triton's auto-complete for convd's models: what a model's config leaves
// out is read off the model itself, from its newest version folder. On by
// default, as in Triton; convd --disable-auto-complete-config turns it off.
//
//  - A model directory without config.pbtxt is still a model when one of
//    its numbered folders holds a network.pbtxt or a model.onnx; its config
//    starts empty, with Triton's batching defaults: max_batch_size
//    kAutoCompleteMaxBatchSize and dynamic_batching {}. A config.pbtxt's
//    max_batch_size is taken as written (0: no batching).
//  - platform, when not given: "onnx" where the newest folder holds a
//    model.onnx and no network.pbtxt (else convd_network, the default).
//  - input and output, when not given, or given without a name or dims:
//    the network's own names (an ONNX model's tensor names; a network
//    definition's input and last layer) and per-sample dims: [C, H, W] for
//    the input; [C] for an output of 1x1 planes, else [C, H, W].
//
// Everything else keeps NormalizeModelConfig's defaults, and the completed
// config is checked as a written one is; the server serves it as it runs,
// so `convctl config M` shows a config.pbtxt to start from.
#ifndef CONVD_ENGINE_MODEL_AUTOCOMPLETE_H_
#define CONVD_ENGINE_MODEL_AUTOCOMPLETE_H_

#include <string>

#include "absl/status/status.h"
#include "proto/model_config.pb.h"

namespace convd {

inline constexpr int kAutoCompleteMaxBatchSize = 4;  // Triton's default-max-batch-size

// Whether `dir` is a model: it holds a config.pbtxt or, with
// `auto_complete`, a numbered folder with a network.pbtxt or model.onnx.
bool IsModelDirectory(const std::string& dir, bool auto_complete);

// Completes `config` of the model in `model_dir` as described above;
// `without_file`: there was no config.pbtxt. Errors name the file that
// could not be read. A model without a version folder is left as it is
// (loading it says what is missing).
absl::Status AutoCompleteModelConfig(const std::string& model_dir, bool without_file,
                                     inference::ModelConfig& config);

}  // namespace convd

#endif  // CONVD_ENGINE_MODEL_AUTOCOMPLETE_H_
