// ReadGptTable: the GPT of a Block device, read asynchronously.
//
// ParseGpt is pure and synchronous; the disk is asynchronous. So the parse
// runs over a cache of what has been read so far: when it asks for a range
// not yet read, that range is read (in transfers the device accepts) and
// the parse runs again. A GPT takes at most four such rounds (LBA 0-1, the
// primary entries, the backup header, the backup entries).
#pragma once

#include <functional>

#include "drivers/gpt/gpt_table.h"
#include "runtime/driver/block_protocol.h"

namespace trellis::gpt {

// Reads and parses the table of `disk`; `done` runs on the caller's
// dispatcher (where `disk` completes). `disk` must outlive the read.
// Errors: those of ParseGpt, and the disk's read errors.
void ReadGptTable(BlockProtocol& disk, std::move_only_function<void(Result<Table>)> done);

}  // namespace trellis::gpt
