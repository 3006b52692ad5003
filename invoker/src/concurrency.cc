// ConcurrencyLimiter: counts per function and in the unreserved pool.
#include "concurrency.h"

namespace haneul::invoker {

ConcurrencyLimiter::Verdict ConcurrencyLimiter::TryAcquire(const std::string& function) {
  auto reserved = reserved_.find(function);
  int& mine = in_flight_[function];
  if (reserved != reserved_.end()) {
    if (mine >= reserved->second) return Verdict::kReservedExceeded;
  } else {
    if (in_flight_unreserved_ >= unreserved_limit()) return Verdict::kAccountExceeded;
    ++in_flight_unreserved_;
  }
  ++mine;
  ++in_flight_total_;
  return Verdict::kOk;
}

void ConcurrencyLimiter::Release(const std::string& function) {
  auto it = in_flight_.find(function);
  if (it == in_flight_.end() || it->second <= 0) return;
  --it->second;
  --in_flight_total_;
  // A slot counts against the pool the function is in now; a reservation set or removed while
  // the invocation ran moves it, and the counts clamp rather than go negative.
  if (!reserved_.count(function) && in_flight_unreserved_ > 0) --in_flight_unreserved_;
}

bool ConcurrencyLimiter::CanReserve(const std::string& function, int value) const {
  auto it = reserved_.find(function);
  int others = total_reserved_ - (it == reserved_.end() ? 0 : it->second);
  return account_limit_ - others - value >= kMinimumUnreserved;
}

void ConcurrencyLimiter::SetReserved(const std::string& function, std::optional<int> value) {
  auto it = reserved_.find(function);
  int in_flight = this->in_flight(function);
  if (it != reserved_.end()) {
    total_reserved_ -= it->second;
    reserved_.erase(it);
    in_flight_unreserved_ += in_flight;  // its running invocations now count as unreserved
  }
  if (value) {
    reserved_[function] = *value;
    total_reserved_ += *value;
    in_flight_unreserved_ -= in_flight;
    if (in_flight_unreserved_ < 0) in_flight_unreserved_ = 0;
  }
}

std::optional<int> ConcurrencyLimiter::reserved(const std::string& function) const {
  auto it = reserved_.find(function);
  if (it == reserved_.end()) return std::nullopt;
  return it->second;
}

int ConcurrencyLimiter::in_flight(const std::string& function) const {
  auto it = in_flight_.find(function);
  return it == in_flight_.end() ? 0 : it->second;
}

}  // namespace haneul::invoker
