// The text and JSON of `trellisctl why`, `driver register|disable|enable`
// and `ls class/...`, and parsing `node add --prop key=value`.
#pragma once

#include <string>
#include <string_view>

#include "runtime/error.h"
#include "tools/trellisctl/json_format.h"
#include "trellis/manager/v1/manager.pb.h"

namespace trellis::tools {

// "root.sys.x: unbound: no driver matches (3 considered)", then a table
// DRIVER VERDICT REASON (verdicts "selected", "lost on priority", "rule
// failed", "fallback not needed", "disabled"), then "last error: ..." if any.
std::string FormatExplanation(const manager::v1::ExplainBindingResponse& explanation);
// {"node", "state", "bound_driver", "selected_driver", "summary",
//  "considered": [{"driver", "verdict", "reason"}], "last_error"}.
Json ExplanationToJson(const manager::v1::ExplainBindingResponse& explanation);

// INSTANCE NODE PROTOCOL DRIVER, one row per instance; "no instance" if
// there is none.
std::string FormatClassInstances(const manager::v1::ListClassResponse& list);
// [{"class", "instance", "node", "protocol", "driver"}].
Json ClassInstancesToJson(const manager::v1::ListClassResponse& list);
// "+ block/000  root.sys.disk0  trellis.block.v1.Block  uring-block" ('-'
// for a departure).
std::string FormatClassEvent(const manager::v1::ClassEvent& event);
// {"event": "arrived"|"departed", "existing", ...ClassInstancesToJson's keys}.
Json ClassEventToJson(const manager::v1::ClassEvent& event);

// "key=value": an int_value when value is a decimal integer, a bool_value
// for true/false, else a string_value (as_string: always a string).
// Errors: kInvalidArgument without '=' or with an empty key.
Result<node::v1::NodeProperty> ParseProperty(std::string_view text, bool as_string = false);

}  // namespace trellis::tools
