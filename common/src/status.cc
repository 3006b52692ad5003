// Status helpers.
#include "haneul/common/status.h"

#include <cstring>

namespace haneul {

Status Status::FromErrno(std::string_view context, int error_number) {
  std::string message(context);
  message += ": ";
  message += std::strerror(error_number);
  return Status(Code::kIoError, std::move(message));
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string message(context);
  message += ": ";
  message += message_;
  return Status(code_, std::move(message));
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return message_;
}

}  // namespace haneul
