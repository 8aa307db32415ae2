#include "runtime/error.h"

#include <cstring>

namespace trellis {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kCancelled: return "CANCELLED";
    case ErrorCode::kUnknown: return "UNKNOWN";
    case ErrorCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case ErrorCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case ErrorCode::kNotFound: return "NOT_FOUND";
    case ErrorCode::kAlreadyExists: return "ALREADY_EXISTS";
    case ErrorCode::kPermissionDenied: return "PERMISSION_DENIED";
    case ErrorCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case ErrorCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case ErrorCode::kAborted: return "ABORTED";
    case ErrorCode::kOutOfRange: return "OUT_OF_RANGE";
    case ErrorCode::kUnimplemented: return "UNIMPLEMENTED";
    case ErrorCode::kInternal: return "INTERNAL";
    case ErrorCode::kUnavailable: return "UNAVAILABLE";
    case ErrorCode::kDataLoss: return "DATA_LOSS";
    case ErrorCode::kUnauthenticated: return "UNAUTHENTICATED";
  }
  return "UNKNOWN";
}

namespace {

ErrorCode CodeForErrno(int err) {
  switch (err) {
    case ENOENT: case ENODEV: case ENXIO: case ESRCH:
      return ErrorCode::kNotFound;
    case EEXIST:
      return ErrorCode::kAlreadyExists;
    case EACCES: case EPERM: case EROFS:
      return ErrorCode::kPermissionDenied;
    case EINVAL: case EBADF: case ENAMETOOLONG: case ENOTDIR: case EISDIR:
      return ErrorCode::kInvalidArgument;
    case ENOMEM: case ENOSPC: case EMFILE: case ENFILE: case EDQUOT:
      return ErrorCode::kResourceExhausted;
    case EAGAIN: case EBUSY: case ECONNREFUSED: case ECONNRESET: case EPIPE:
    case ENOTCONN: case ESHUTDOWN:
      return ErrorCode::kUnavailable;
    case ETIMEDOUT: case ETIME:
      return ErrorCode::kDeadlineExceeded;
    case ECANCELED: case EINTR:
      return ErrorCode::kCancelled;
    case ENOSYS: case EOPNOTSUPP:
      return ErrorCode::kUnimplemented;
    case ERANGE: case EOVERFLOW:
      return ErrorCode::kOutOfRange;
    case EIO:
      return ErrorCode::kDataLoss;
    default:
      return ErrorCode::kInternal;
  }
}

}  // namespace

Error Error::FromErrno(int err, std::string_view what) {
  Error e(CodeForErrno(err), std::string(what) + ": " + std::strerror(err));
  e.errno_ = err;
  return e;
}

Error Error::WithContext(std::string_view context) && {
  message_ = std::string(context) + ": " + message_;
  return std::move(*this);
}

Error Error::WithContext(std::string_view context) const& {
  Error copy = *this;
  return std::move(copy).WithContext(context);
}

std::string Error::ToString() const {
  return std::string(ErrorCodeName(code_)) + ": " + message_;
}

}  // namespace trellis
