// SuspendAndResume: drives whole suspend/resume cycles through a running
// manager's Power service, for tests that check nothing is lost across them.
#pragma once

#include <string>

namespace trellis::testing {

// Suspends the system and resumes it as soon as it is suspended, `cycles`
// times in a row; returns how many went all the way down and back up.
// Blocks (each cycle is bounded by a 20 s deadline).
int SuspendAndResume(const std::string& manager_endpoint, int cycles);

}  // namespace trellis::testing
