// suspend and resume.
#include "tools/powerctl/suspend_commands.h"

#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "tools/client/duration.h"
#include "tools/powerctl/plan_commands.h"
#include "tools/powerctl/power_format.h"
#include "tools/powerctl/power_json.h"
#include "tools/powerctl/trace_format.h"

namespace trellis::powerctl {

namespace {

using power::v1::SuspendResponse;

struct SuspendOptions {
  std::string wake_after = "0";
  std::string wait = "0";
  std::string trace_file;
  uint64_t expected_generation = 0;
  bool expected_generation_given = false;  // Set after parsing.
  bool plan = false;
  std::string test;  // "", "drivers" or "hal".
  std::string when = "now";  // "now" or "idle".
  std::string not_later_than;  // With --when idle; "": no deadline.
};

// Whether `path` can be written: checked before suspending, so that a typo
// does not cost a suspend cycle and its timings.
Result<void> CheckWritable(const std::string& path) {
  std::string what = "cannot write trace " + path;
  if (access(path.c_str(), F_OK) == 0) {
    if (access(path.c_str(), W_OK) != 0) return FailErrno(errno, what);
    return Ok();
  }
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  if (access(dir.c_str(), W_OK | X_OK) != 0) return FailErrno(errno, what);
  return Ok();
}

Result<void> WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return FailErrno(errno, "cannot write trace " + path);
  out << text;
  out.close();
  if (!out) return FailErrno(errno, "cannot write trace " + path);
  return Ok();
}

Result<power::v1::SuspendRequest> BuildRequest(const SuspendOptions& options) {
  power::v1::SuspendRequest request;
  // The validators checked the durations already.
  TRELLIS_ASSIGN_OR_RETURN(auto wake_after, client::ParseDuration(options.wake_after));
  TRELLIS_ASSIGN_OR_RETURN(auto wait, client::ParseDuration(options.wait));
  if (wake_after.count() > 0) *request.mutable_wake_after() = ToProtoDuration(wake_after);
  if (wait.count() > 0) *request.mutable_wait() = ToProtoDuration(wait);
  request.set_trace(!options.trace_file.empty());
  if (options.test == "drivers") request.set_test(power::v1::SuspendRequest::TEST_MODE_DRIVERS);
  if (options.test == "hal") request.set_test(power::v1::SuspendRequest::TEST_MODE_HAL);
  if (options.when == "idle") {
    if (wait.count() > 0) {
      return Fail(ErrorCode::kInvalidArgument,
                  "--when idle waits for the leases by itself; --wait does not apply");
    }
    request.set_when_idle(true);
    if (!options.not_later_than.empty()) {
      TRELLIS_ASSIGN_OR_RETURN(auto force, client::ParseDuration(options.not_later_than));
      *request.mutable_not_later_than() = ToProtoDuration(force);
    }
  } else if (!options.not_later_than.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "--not-later-than needs --when idle");
  }
  if (options.expected_generation_given) {
    request.set_expected_generation(options.expected_generation);
  }
  return request;
}

int RunSuspend(const GlobalOptions& globals, const Io& io, const SuspendOptions& options) {
  auto request = BuildRequest(options);
  if (!request) return ReportError(io, globals, request.error());
  if (request->trace()) {
    if (auto writable = CheckWritable(options.trace_file); !writable) {
      return ReportError(io, globals, writable.error());
    }
  }
  auto power = ConnectPower(globals);
  if (!power) return ReportError(io, globals, power.error());

  if (io.err_is_tty) {
    io.err << (request->when_idle()
                   ? "queued until no wake lease is held… (`powerctl cancel` cancels it)"
                   : "suspending… (Ctrl-C leaves the system suspended)")
           << std::flush;
  }
  // Suspend lasts as long as the system sleeps: no deadline unless asked.
  auto response =
      power->Suspend(*request, globals.timeout_given ? CallTimeout(globals) : std::nullopt);
  if (io.err_is_tty) io.err << "\r\033[K" << std::flush;
  if (!response) return ReportError(io, globals, response.error());

  if (globals.json) {
    Json json = SuspendResultToJson(*response);
    json["trace_file"] = options.trace_file.empty() ? Json(nullptr) : Json(options.trace_file);
    Print(io, DumpJson(json) + "\n");
  } else {
    Print(io, FormatSuspendResult(*response, options.trace_file));
  }
  if (request->trace()) {
    if (auto written = WriteFile(options.trace_file, FormatTrace(*response)); !written) {
      return ReportError(io, globals, written.error());
    }
  }
  const bool ok = response->outcome() == SuspendResponse::OUTCOME_RESUMED ||
                  response->outcome() == SuspendResponse::OUTCOME_TESTED;
  return ok ? kExitOk : kExitFailed;
}

int RunCancel(const GlobalOptions& globals, const Io& io) {
  auto power = ConnectPower(globals);
  if (!power) return ReportError(io, globals, power.error());
  if (auto cancelled = power->CancelSuspend(); !cancelled) {
    return ReportError(io, globals, cancelled.error());
  }
  Print(io, globals.json ? "{}\n" : "queued suspend cancelled\n");
  return kExitOk;
}

int RunResume(const GlobalOptions& globals, const Io& io, const std::string& reason) {
  auto power = ConnectPower(globals);
  if (!power) return ReportError(io, globals, power.error());
  auto resumed = power->Resume(reason);
  if (!resumed) return ReportError(io, globals, resumed.error());
  Print(io, globals.json ? "{}\n" : "resume requested\n");
  return kExitOk;
}

}  // namespace

void AddSuspendCommands(CLI::App& app, const GlobalOptions& globals, const Io& io, Runner& run) {
  {
    auto options = std::make_shared<SuspendOptions>();
    CLI::App* suspend = app.add_subcommand(
        "suspend",
        "Suspend the system and wait until it has resumed; exit 0 if it resumed, 1 if the "
        "attempt failed or was aborted, 2 if the call failed");
    suspend
        ->add_option("--wake-after", options->wake_after,
                     "Arm a wake alarm this long after entering low power (5s, 1m; 0: none)")
        ->check(client::DurationValidator())
        ->type_name("DURATION")
        ->capture_default_str();
    suspend
        ->add_option("--wait", options->wait,
                     "Wait this long for held wake leases to be released before failing "
                     "(0: fail at once)")
        ->check(client::DurationValidator())
        ->type_name("DURATION")
        ->capture_default_str();
    suspend
        ->add_option("--trace", options->trace_file,
                     "Write the drivers' suspend/resume callback timings to FILE as a "
                     "Chrome/Perfetto trace (open in ui.perfetto.dev)")
        ->type_name("FILE");
    CLI::Option* generation =
        suspend
            ->add_option("--expected-generation", options->expected_generation,
                         "Refuse to suspend unless the wake generation (see `powerctl "
                         "status`) still equals N")
            ->type_name("N");
    suspend
        ->add_option("--test", options->test,
                     "Do not sleep: go as far as PHASE, then resume (like Linux's pm_test): "
                     "'drivers' suspends every driver and resumes them at once; 'hal' also "
                     "commits (leases and wakes checked) but does not enter the HAL")
        ->check(CLI::IsMember({"drivers", "hal"}))
        ->type_name("PHASE");
    suspend
        ->add_option("--when", options->when,
                     "'now', or 'idle': queue the suspend until the last wake lease drops "
                     "(shown by `powerctl status`, cancelled by `powerctl cancel`)")
        ->check(CLI::IsMember({"now", "idle"}))
        ->type_name("WHEN")
        ->capture_default_str();
    suspend
        ->add_option("--not-later-than", options->not_later_than,
                     "With --when idle: go ahead after this long even if leases are still "
                     "held, listing the leases overridden")
        ->check(client::DurationValidator())
        ->type_name("DURATION");
    suspend->add_flag("--plan", options->plan,
                      "Do not suspend: print the drivers a suspend would take down, wave by "
                      "wave, what would refuse it now and how long it is expected to take");
    suspend->callback([&globals, &io, &run, options, generation] {
      options->expected_generation_given = generation->count() > 0;
      run = [&globals, &io, options] {
        return options->plan ? RunPlan(globals, io) : RunSuspend(globals, io, *options);
      };
    });
  }
  app.add_subcommand("cancel", "Cancel the queued suspend (`suspend --when idle` or --wait); "
                               "its powerctl exits with CANCELLED")
      ->callback([&globals, &io, &run] { run = [&globals, &io] { return RunCancel(globals, io); }; });
  {
    auto reason = std::make_shared<std::string>();
    CLI::App* resume =
        app.add_subcommand("resume", "Wake a suspended or suspending system (no-op if running)");
    resume->add_option("--reason", *reason, "Reported as the wake reason of the suspend")
        ->type_name("TEXT");
    resume->callback([&globals, &io, &run, reason] {
      run = [&globals, &io, reason] { return RunResume(globals, io, *reason); };
    });
  }
}

}  // namespace trellis::powerctl
