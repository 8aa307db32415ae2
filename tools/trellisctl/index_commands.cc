// why, driver register|disable|enable, node add|remove and ls class.
#include "tools/trellisctl/index_commands.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "runtime/rpc/status.h"
#include "tools/trellisctl/index_format.h"

namespace trellis::tools {

namespace {

int RunWhy(const GlobalOptions& globals, const std::string& path) {
  const std::string what = "why " + path;
  auto manager = ConnectManager(globals);
  if (!manager) return ReportError(what, manager.error());
  auto explanation = manager->ExplainBinding(path);
  if (!explanation) return ReportError(what, explanation.error());
  Print(globals.json ? DumpJson(ExplanationToJson(*explanation)) + "\n"
                     : FormatExplanation(*explanation));
  return kExitOk;
}

// "registered 'x'; bound to: a, b" and the JSON {"driver", "nodes"}.
void PrintDriverChange(const GlobalOptions& globals, const std::string& verb,
                       const std::string& driver, const std::vector<std::string>& nodes) {
  if (globals.json) {
    Print(DumpJson(Json{{"driver", driver}, {"nodes", nodes}}) + "\n");
    return;
  }
  std::string text = verb + " '" + driver + "'";
  if (nodes.empty()) {
    text += "; no node " + std::string(verb == "disabled" ? "was bound to it" : "binds it now");
  } else {
    text += verb == "disabled" ? "; unbound from (they bind the next best driver):"
                               : "; binding:";
    for (const auto& node : nodes) text += "\n  " + node;
  }
  Print(text + "\n");
}

int RunRegister(const GlobalOptions& globals, const std::string& manifest) {
  const std::string what = "driver register " + manifest;
  std::error_code ec;
  auto path = std::filesystem::absolute(manifest, ec);
  if (ec) return ReportError(what, Error::FromErrno(ec.value(), manifest));
  auto manager = ConnectManager(globals);
  if (!manager) return ReportError(what, manager.error());
  auto registered = manager->RegisterDriver(path.lexically_normal().string());
  if (!registered) return ReportError(what, registered.error());
  PrintDriverChange(globals, "registered", registered->driver_name(),
                    {registered->bound_nodes().begin(), registered->bound_nodes().end()});
  return kExitOk;
}

int RunSetEnabled(const GlobalOptions& globals, const std::string& name, bool enable) {
  const std::string what = std::string("driver ") + (enable ? "enable " : "disable ") + name;
  auto manager = ConnectManager(globals);
  if (!manager) return ReportError(what, manager.error());
  if (enable) {
    auto enabled = manager->EnableDriver(name);
    if (!enabled) return ReportError(what, enabled.error());
    PrintDriverChange(globals, "enabled", name,
                      {enabled->bound_nodes().begin(), enabled->bound_nodes().end()});
  } else {
    auto disabled = manager->DisableDriver(name);
    if (!disabled) return ReportError(what, disabled.error());
    PrintDriverChange(globals, "disabled", name,
                      {disabled->unbound_nodes().begin(), disabled->unbound_nodes().end()});
  }
  return kExitOk;
}

struct AddNodeOptions {
  std::string parent, name;
  std::vector<std::string> props, string_props;
};

int RunAddNode(const GlobalOptions& globals, const AddNodeOptions& options) {
  const std::string what = "node add " + options.parent + " " + options.name;
  manager::v1::AddTestNodeRequest request;
  request.set_parent_path(options.parent);
  request.set_name(options.name);
  for (bool as_string : {false, true}) {
    for (const auto& text : as_string ? options.string_props : options.props) {
      auto property = ParseProperty(text, as_string);
      if (!property) return ReportError(what, property.error());
      *request.add_properties() = std::move(*property);
    }
  }
  auto manager = ConnectManager(globals);
  if (!manager) return ReportError(what, manager.error());
  auto added = manager->AddTestNode(std::move(request));
  if (!added) return ReportError(what, added.error());
  Print(globals.json ? DumpJson(Json{{"node", added->node_path()}}) + "\n"
                     : "added " + added->node_path() + " (`trellisctl why " + added->node_path() +
                           "` shows what binds it)\n");
  return kExitOk;
}

int RunRemoveNode(const GlobalOptions& globals, const std::string& path) {
  const std::string what = "node remove " + path;
  auto manager = ConnectManager(globals);
  if (!manager) return ReportError(what, manager.error());
  if (auto removed = manager->RemoveTestNode(path); !removed) {
    return ReportError(what, removed.error());
  }
  Print(globals.json ? "{}\n" : "removed " + path + "\n");
  return kExitOk;
}

struct LsOptions {
  std::string what = "class";
  bool watch = false;
};

int RunLs(const GlobalOptions& globals, const LsOptions& options) {
  const std::string what = "ls " + options.what;
  std::string class_name;
  if (options.what == "class" || options.what == "class/") {
    class_name.clear();
  } else if (options.what.starts_with("class/")) {
    class_name = options.what.substr(6);
  } else {
    return ReportError(what, Error(ErrorCode::kInvalidArgument,
                                   "list 'class' or 'class/NAME' (e.g. class/block)"));
  }
  auto manager = ConnectManager(globals);
  if (!manager) return ReportError(what, manager.error());
  if (!options.watch) {
    auto list = manager->ListClass(class_name);
    if (!list) return ReportError(what, list.error());
    Print(globals.json ? DumpJson(ClassInstancesToJson(*list)) + "\n" : FormatClassInstances(*list));
    return kExitOk;
  }
  // Until Ctrl-C: what is there, then every arrival and departure.
  grpc::ClientContext context;
  manager::v1::WatchClassRequest request;
  request.set_class_name(class_name);
  auto reader = manager->stub().WatchClass(&context, request);
  manager::v1::ClassEvent event;
  while (reader->Read(&event)) {
    Print(globals.json ? DumpJson(ClassEventToJson(event), false) + "\n" : FormatClassEvent(event));
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return ReportError(what, rpc::FromStatus(status, "WatchClass"));
  return kExitOk;
}

}  // namespace

void AddIndexCommands(CLI::App& app, const GlobalOptions& globals, Runner& run) {
  {
    auto path = std::make_shared<std::string>();
    CLI::App* why = app.add_subcommand(
        "why", "Explain a node's binding: every driver considered, the first rule that failed "
               "or why it lost on priority");
    why->add_option("NODE", *path, "Node path, e.g. root.sys.disk0")->required();
    why->callback([&globals, &run, path] { run = [&globals, path] { return RunWhy(globals, *path); }; });
  }
  {
    CLI::App* driver = app.add_subcommand("driver", "Change the driver index at run time");
    driver->require_subcommand(1);
    auto manifest = std::make_shared<std::string>();
    CLI::App* reg = driver->add_subcommand(
        "register", "Load a driver manifest (validated like the boot manifests) and bind it "
                    "where it matches");
    reg->add_option("MANIFEST", *manifest, "The manifest file; its binary is found beside it")
        ->required();
    reg->callback([&globals, &run, manifest] {
      run = [&globals, manifest] { return RunRegister(globals, *manifest); };
    });
    for (bool enable : {false, true}) {
      auto name = std::make_shared<std::string>();
      CLI::App* sub = driver->add_subcommand(
          enable ? "enable" : "disable",
          enable ? "Enable a driver: it binds where it matches and takes over from fallbacks"
                 : "Disable a driver: unbind it everywhere; its nodes bind the next best driver");
      sub->add_option("NAME", *name, "Driver name, as `trellisctl drivers` shows it")->required();
      sub->callback([&globals, &run, name, enable] {
        run = [&globals, name, enable] { return RunSetEnabled(globals, *name, enable); };
      });
    }
  }
  {
    CLI::App* node = app.add_subcommand("node", "Add and remove test nodes");
    node->require_subcommand(1);
    auto options = std::make_shared<AddNodeOptions>();
    CLI::App* add = node->add_subcommand(
        "add", "Add a test node with properties, to try drivers without hardware");
    add->add_option("PARENT", options->parent, "Parent path, e.g. root.sys")->required();
    add->add_option("NAME", options->name, "Node name: 1-63 of [A-Za-z0-9_-]")->required();
    add->add_option("--prop", options->props,
                    "A property KEY=VALUE: an integer, true/false, or else a string; repeatable")
        ->type_name("KEY=VALUE");
    add->add_option("--string-prop", options->string_props,
                    "A property whose VALUE is a string even if it looks like a number")
        ->type_name("KEY=VALUE");
    add->callback([&globals, &run, options] {
      run = [&globals, options] { return RunAddNode(globals, *options); };
    });
    auto path = std::make_shared<std::string>();
    CLI::App* remove = node->add_subcommand(
        "remove", "Remove a test node and its subtree (drivers stopped, children first)");
    remove->add_option("NODE", *path, "The test node's path")->required();
    remove->callback([&globals, &run, path] {
      run = [&globals, path] { return RunRemoveNode(globals, *path); };
    });
  }
  {
    auto options = std::make_shared<LsOptions>();
    CLI::App* ls = app.add_subcommand(
        "ls", "List class instances (class/block): stable names for the exposed protocols, so "
              "`block info class/block/000` needs no topology path");
    ls->add_option("WHAT", options->what, "'class' or 'class/NAME'")->capture_default_str();
    ls->add_flag("--watch", options->watch,
                 "Keep printing arrivals (+) and departures (-) until Ctrl-C");
    ls->callback([&globals, &run, options] {
      run = [&globals, options] { return RunLs(globals, *options); };
    });
  }
}

}  // namespace trellis::tools
