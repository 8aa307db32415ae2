// trellis::Error and Result<T>: the one error model of the project.
//
// Functions that can fail return `[[nodiscard]] Result<T>`
// (= std::expected<T, Error>). Exceptions never cross an API boundary.
//
// ErrorCode maps one-to-one onto grpc::StatusCode (see grpc_status.h). When a
// caller may retry:
//   kUnavailable        — yes, with backoff (host restarting, socket gone).
//   kResourceExhausted  — yes, after backing off (a limit or a queue is full).
//   kAborted            — yes, the whole transaction (e.g. a suspend that a
//                         wake lease aborted).
//   kDeadlineExceeded   — maybe; the operation's outcome may be unknown.
//   everything else     — no: fix the input or the state first.
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace trellis {

enum class ErrorCode : int {
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// Returns the canonical upper-case name ("INVALID_ARGUMENT").
std::string_view ErrorCodeName(ErrorCode code);

class [[nodiscard]] Error {
 public:
  Error(ErrorCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  // An error for a failed system call: the code follows the errno
  // (ENOENT → kNotFound, EACCES → kPermissionDenied, ...), the message reads
  // "<what>: <strerror>", and errno_value() keeps the number.
  static Error FromErrno(int err, std::string_view what);

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The errno that caused this error, or 0.
  int errno_value() const { return errno_; }

  // Prepends context: Error(kNotFound, "no such node").WithContext("while
  // binding disk0") reads "while binding disk0: no such node".
  Error WithContext(std::string_view context) &&;
  Error WithContext(std::string_view context) const&;

  // "NOT_FOUND: while binding disk0: no such node".
  std::string ToString() const;

  friend bool operator==(const Error&, const Error&) = default;

 private:
  ErrorCode code_;
  std::string message_;
  int errno_ = 0;
};

template <typename T>
using Result = std::expected<T, Error>;

// Shorthand for returning an error: `return Fail(ErrorCode::kNotFound, "...")`.
inline std::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error(code, std::move(message)));
}
inline std::unexpected<Error> Fail(Error error) {
  return std::unexpected<Error>(std::move(error));
}
inline std::unexpected<Error> FailErrno(int err, std::string_view what) {
  return std::unexpected<Error>(Error::FromErrno(err, what));
}

// Success value for Result<void>.
inline Result<void> Ok() { return {}; }

}  // namespace trellis

// TRELLIS_TRY(expr): returns the error of a Result-valued `expr` from the
// enclosing function. Optional second argument adds context.
#define TRELLIS_TRY(expr, ...)                                                  \
  do {                                                                          \
    auto&& trellis_try_result_ = (expr);                                        \
    if (!trellis_try_result_.has_value()) {                                     \
      return ::std::unexpected(                                                 \
          ::trellis::internal::AddContext(                                      \
              std::move(trellis_try_result_).error() __VA_OPT__(, ) __VA_ARGS__)); \
    }                                                                           \
  } while (0)

// TRELLIS_ASSIGN_OR_RETURN(lhs, expr[, context]): `lhs = *expr` or return the
// error. `lhs` may be a declaration: TRELLIS_ASSIGN_OR_RETURN(auto fd, Open(p)).
#define TRELLIS_ASSIGN_OR_RETURN(lhs, expr, ...)                                \
  TRELLIS_ASSIGN_OR_RETURN_IMPL_(TRELLIS_CONCAT_(trellis_aor_, __LINE__), lhs, \
                                 expr __VA_OPT__(, ) __VA_ARGS__)
#define TRELLIS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr, ...)                     \
  auto&& tmp = (expr);                                                          \
  if (!tmp.has_value()) {                                                       \
    return ::std::unexpected(::trellis::internal::AddContext(                   \
        std::move(tmp).error() __VA_OPT__(, ) __VA_ARGS__));                    \
  }                                                                             \
  lhs = std::move(tmp).value()
#define TRELLIS_CONCAT_(a, b) TRELLIS_CONCAT_IMPL_(a, b)
#define TRELLIS_CONCAT_IMPL_(a, b) a##b

namespace trellis::internal {
inline Error AddContext(Error e) { return e; }
inline Error AddContext(Error e, std::string_view context) {
  return std::move(e).WithContext(context);
}
}  // namespace trellis::internal
