// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status (Abseil 20220623 ships
// neither). Usage:
//   RETURN_IF_ERROR(Validate(x));
//   ASSIGN_OR_RETURN(Graph graph, BuildGraph(def));
#ifndef CONVD_ENGINE_STATUS_MACROS_H_
#define CONVD_ENGINE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CONVD_CONCAT_INNER_(a, b) a##b
#define CONVD_CONCAT_(a, b) CONVD_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                         \
  do {                                                \
    ::absl::Status convd_status_ = (expr);            \
    if (!convd_status_.ok()) return convd_status_;    \
  } while (false)

#define ASSIGN_OR_RETURN(lhs, rexpr) \
  CONVD_ASSIGN_OR_RETURN_IMPL_(CONVD_CONCAT_(convd_statusor_, __LINE__), lhs, rexpr)

#define CONVD_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // CONVD_ENGINE_STATUS_MACROS_H_
