// ConcurrencyLimiter: Lambda's concurrency accounting. An account limit is shared by every
// function; a function with reserved concurrency gets exactly that many slots of its own and the
// rest share what is left (the unreserved pool). Every in-flight invocation holds one slot from
// acquisition until its environment answers. Also the pick of an alias's weighted routing.
// Pure logic, no I/O: thread-compatible (the invoker uses it from the loop thread only).
#pragma once

#include <map>
#include <optional>
#include <string>

namespace haneul::invoker {

class ConcurrencyLimiter {
 public:
  // AWS keeps at least this much of the account limit unreserved.
  static constexpr int kMinimumUnreserved = 100;

  enum class Verdict { kOk, kReservedExceeded, kAccountExceeded };

  explicit ConcurrencyLimiter(int account_limit) : account_limit_(account_limit) {}

  // Takes one slot for function, or says which limit refused it.
  Verdict TryAcquire(const std::string& function);
  // Gives back a slot taken by TryAcquire.
  void Release(const std::string& function);

  // False when reserving value for function would leave fewer than kMinimumUnreserved unreserved.
  bool CanReserve(const std::string& function, int value) const;
  void SetReserved(const std::string& function, std::optional<int> value);
  std::optional<int> reserved(const std::string& function) const;

  int account_limit() const { return account_limit_; }
  int unreserved_limit() const { return account_limit_ - total_reserved_; }
  int in_flight() const { return in_flight_total_; }
  int in_flight(const std::string& function) const;

 private:
  int account_limit_;
  int total_reserved_ = 0;
  int in_flight_total_ = 0;
  int in_flight_unreserved_ = 0;
  std::map<std::string, int> reserved_;
  std::map<std::string, int> in_flight_;
};

// The weighted routing of an alias: with probability weight the additional version, else the
// primary. uniform is a draw from [0, 1).
inline const std::string& PickAliasVersion(const std::string& primary,
                                           const std::string& additional, double weight,
                                           double uniform) {
  return !additional.empty() && uniform < weight ? additional : primary;
}

}  // namespace haneul::invoker
