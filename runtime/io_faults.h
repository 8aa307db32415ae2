// IoFaults: a test-only hook in the reactor's completion path, for fault
// injection (docs/reliability.md). The reactor asks it about every
// completion of a read or write (IORING_OP_READ*, WRITE*, READV, WRITEV and
// their _FIXED forms) before the handler sees it; it may shorten a
// transfer, or turn the result into -EAGAIN or -EIO. It may also reorder
// the completions the reactor reaped in one turn (io_uring never promised
// an order). The operation itself really ran: a faked error after a write
// is the "state unknown" that EIO means on a real disk.
//
// Never set in production: ReactorOptions::io_faults is null by default,
// and trellis-host sets it only from TRELLIS_TEST_IO_FAULTS
// (SeededIoFaults::FromSpec).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>

#include "runtime/error.h"
#include "runtime/mutex.h"

namespace trellis {

class IoFaults {
 public:
  virtual ~IoFaults() = default;
  // The result to deliver for a read (`is_read`) or write that completed
  // with `result`. Called on the reactor thread, one call at a time.
  virtual int32_t Rewrite(bool is_read, int32_t result) = 0;
  // Permutes `order` (indexes of the turn's completions), if it likes.
  virtual void Reorder(std::span<size_t> order) = 0;
};

struct IoFaultCounts {
  uint64_t seen = 0;
  uint64_t shortened = 0;
  uint64_t eagain = 0;
  uint64_t eio = 0;
  uint64_t reordered_turns = 0;
};

// Faults drawn from a seeded generator: each read or write is, with
// probability per_mille/1000 each, shortened, turned into EAGAIN, or into
// EIO; every turn with two or more completions is shuffled.
class SeededIoFaults : public IoFaults {
 public:
  SeededIoFaults(uint64_t seed, unsigned per_mille) : rng_(seed), per_mille_(per_mille) {}
  // "SEED:PER_MILLE", e.g. "7:50". Errors: kInvalidArgument naming the spec.
  static Result<std::shared_ptr<SeededIoFaults>> FromSpec(const std::string& spec);

  int32_t Rewrite(bool is_read, int32_t result) override;
  void Reorder(std::span<size_t> order) override;
  IoFaultCounts counts() const;

 private:
  mutable Mutex mu_;
  std::mt19937_64 rng_ TRELLIS_GUARDED_BY(mu_);
  const unsigned per_mille_;
  IoFaultCounts counts_ TRELLIS_GUARDED_BY(mu_);
};

}  // namespace trellis
