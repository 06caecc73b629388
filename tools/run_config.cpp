// Strict JSON <-> RunConfig conversion (see tools/run_config.h).
#include "tools/run_config.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "core/check.h"

namespace ldm::tools {
namespace {

using nlohmann::json;

std::string type_name(const json& v) {
  if (v.is_number_integer() || v.is_number_unsigned()) return "an integer";
  if (v.is_number_float()) return "a number with a fraction";
  return std::string("a ") + v.type_name();
}

// Reads the keys of one JSON object, remembering which were used, so that finish() can reject
// the rest. Every message names the full key path ("ldm_training.epochs").
class Section {
 public:
  Section(const json& j, std::string path, const std::string& source)
      : j_(j), path_(std::move(path)), source_(source) {
    if (!j_.is_object()) fail(source_, ": ", where(), " must be an object, got ", type_name(j_));
  }

  void read(const char* key, int64_t& out) {
    if (const json* v = find(key)) {
      if (!v->is_number_integer() && !v->is_number_unsigned()) wrong(key, "an integer", *v);
      out = v->get<int64_t>();
    }
  }
  void read(const char* key, uint64_t& out) {
    if (const json* v = find(key)) {
      if (!v->is_number_unsigned()) wrong(key, "a non-negative integer", *v);
      out = v->get<uint64_t>();
    }
  }
  void read(const char* key, double& out) {
    if (const json* v = find(key)) {
      if (!v->is_number()) wrong(key, "a number", *v);
      out = v->get<double>();
    }
  }
  void read(const char* key, std::string& out) {
    if (const json* v = find(key)) {
      if (!v->is_string()) wrong(key, "a string", *v);
      out = v->get<std::string>();
    }
  }
  void read(const char* key, std::vector<int64_t>& out) {
    if (const json* v = find(key)) {
      if (!v->is_array()) wrong(key, "an array of integers", *v);
      out.clear();
      for (const json& e : *v) {
        if (!e.is_number_integer() && !e.is_number_unsigned())
          wrong(key, "an array of integers", *v);
        out.push_back(e.get<int64_t>());
      }
    }
  }
  // A string naming one of an enum's values, converted by `parse` (which throws for others).
  template <typename Enum, typename Parse>
  void read_choice(const char* key, Enum& out, Parse parse) {
    std::string name;
    if (!find(key)) return;
    read(key, name);
    try {
      out = parse(name);
    } catch (const Error& e) {
      fail(source_, ": ", where(key), ": ", e.what());
    }
  }
  Section section(const char* key) {
    static const json kEmpty = json::object();
    const json* v = find(key);
    return Section(v ? *v : kEmpty, path_of(key), source_);
  }
  // A positive-integer check with the key's name in the message.
  void require(bool ok, const char* key, const std::string& what) const {
    if (!ok) fail(source_, ": ", where(key), " ", what);
  }
  void finish() const {
    for (const auto& [key, value] : j_.items())
      if (!used_.count(key)) {
        std::ostringstream known;
        for (const std::string& k : used_) known << (known.tellp() > 0 ? ", " : "") << k;
        fail(source_, ": unknown key ", where(key.c_str()), " (known keys here: ", known.str(), ")");
      }
  }

 private:
  const json* find(const char* key) {
    used_.insert(key);
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }
  std::string path_of(const char* key) const {
    std::string p = path_;
    if (key) {
      if (!p.empty()) p += '.';
      p += key;
    }
    return p;
  }
  // The key's full path quoted for messages: 'ldm_training.epochs'.
  std::string where(const char* key = nullptr) const {
    const std::string p = path_of(key);
    return p.empty() ? "the top level" : "'" + p + "'";
  }
  [[noreturn]] void wrong(const char* key, const char* expected, const json& v) const {
    fail(source_, ": ", where(key), " must be ", expected, ", got ", type_name(v), " (",
         v.dump(), ")");
  }

  const json& j_;
  std::string path_;
  const std::string& source_;
  std::set<std::string> used_;  // every key asked for, present or not: the known keys
};

void read_optimizer(Section& s, models::AdamWConfig& o) {
  s.read("lr", o.lr);
  s.read("beta1", o.beta1);
  s.read("beta2", o.beta2);
  s.read("eps", o.eps);
  s.read("weight_decay", o.weight_decay);
  s.read_choice("schedule", o.schedule, models::parse_lr_schedule);
  s.read("warmup_steps", o.warmup_steps);
  s.require(o.lr > 0, "lr", "must be positive");
  s.require(o.warmup_steps >= 0, "warmup_steps", "must be >= 0");
  s.require(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, "beta1",
            "and beta2 must be in [0, 1)");
}

void read_epochs_and_batch(Section& s, int64_t& epochs, int64_t& batch_size) {
  s.read("epochs", epochs);
  s.read("batch_size", batch_size);
  s.require(epochs >= 0, "epochs", "must be >= 0");
  s.require(batch_size >= 1, "batch_size", "must be >= 1");
}

models::CodebookMode parse_codebook_mode(const std::string& name) {
  if (name == "frozen") return models::CodebookMode::kFrozen;
  if (name == "learned") return models::CodebookMode::kLearned;
  fail("unknown codebook mode '", name, "' (expected frozen or learned)");
}

std::string codebook_mode_name(models::CodebookMode mode) {
  return mode == models::CodebookMode::kFrozen ? "frozen" : "learned";
}

// Sets a.b.c = value in j, creating objects on the way.
void apply_override(json& j, const std::string& assignment, const std::string& source) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    fail(source, ": override '", assignment, "' is not of the form section.key=value");
  const std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text;  // a bare word such as ddpm is a string
  json* node = &j;
  std::stringstream parts(path);
  std::string part;
  std::vector<std::string> keys;
  while (std::getline(parts, part, '.')) keys.push_back(part);
  // "vqvae.=3" would otherwise set the whole section to 3, and "vqvae..x" make a key "".
  if (path.back() == '.' || std::find(keys.begin(), keys.end(), "") != keys.end())
    fail(source, ": override '", assignment, "' has an empty key name");
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    json& next = (*node)[keys[i]];
    if (next.is_null()) next = json::object();
    if (!next.is_object())
      fail(source, ": override '", assignment, "': '", keys[i], "' is not a section");
    node = &next;
  }
  (*node)[keys.back()] = value;
}

}  // namespace

RunConfig parse_run_config(const json& j, const std::string& source) {
  RunConfig c;
  Section top(j, "", source);
  top.read("seed", c.seed);

  Section data = top.section("data");
  data.read("file", c.data.file);
  data.read("image_size", c.data.image_size);
  data.read("train_subset", c.data.train_subset);
  data.require(c.data.image_size >= 8, "image_size", "must be at least 8");
  data.require(c.data.train_subset >= 0, "train_subset", "must be >= 0");
  data.finish();

  Section vq = top.section("vqvae");
  vq.read("base_channels", c.vqvae.base_channels);
  vq.read("channel_multipliers", c.vqvae.channel_multipliers);
  vq.read("num_res_blocks", c.vqvae.num_res_blocks);
  vq.read("latent_channels", c.vqvae.latent_channels);
  vq.read("codebook_size", c.vqvae.codebook_size);
  vq.read_choice("codebook", c.vqvae.codebook_mode, parse_codebook_mode);
  vq.read("beta", c.vqvae.beta);
  vq.read("groups", c.vqvae.groups);
  vq.finish();
  c.vqvae.seed = c.seed;

  Section vqt = top.section("vqvae_training");
  read_epochs_and_batch(vqt, c.vqvae_training.epochs, c.vqvae_training.batch_size);
  Section vq_opt = vqt.section("optimizer");
  read_optimizer(vq_opt, c.vqvae_training.optimizer);
  vq_opt.finish();
  vqt.read("dead_code_restart_every", c.vqvae_training.dead_code_restart_every);
  vqt.finish();

  Section un = top.section("unet");
  un.read("base_channels", c.unet.base_channels);
  un.read("channel_multipliers", c.unet.channel_multipliers);
  un.read("num_res_blocks", c.unet.num_res_blocks);
  un.read("attention_levels", c.unet.attention_levels);
  un.read("num_heads", c.unet.num_heads);
  un.read("num_classes", c.unet.num_classes);
  un.read("groups", c.unet.groups);
  un.finish();
  c.unet.in_channels = c.vqvae.latent_channels;
  c.unet.seed = c.seed;

  Section diff = top.section("diffusion");
  diff.read("timesteps", c.diffusion.timesteps);
  diff.read_choice("schedule", c.diffusion.schedule, models::parse_schedule);
  diff.read("beta_start", c.diffusion.beta_start);
  diff.read("beta_end", c.diffusion.beta_end);
  diff.finish();

  Section lt = top.section("ldm_training");
  read_epochs_and_batch(lt, c.ldm_training.epochs, c.ldm_training.batch_size);
  Section lt_opt = lt.section("optimizer");
  read_optimizer(lt_opt, c.ldm_training.optimizer);
  lt_opt.finish();
  lt.read("ema_decay", c.ldm_training.ema_decay);
  lt.read("label_dropout", c.ldm_training.label_dropout);
  lt.require(c.ldm_training.ema_decay >= 0 && c.ldm_training.ema_decay < 1, "ema_decay",
             "must be in [0, 1)");
  lt.require(c.ldm_training.label_dropout >= 0 && c.ldm_training.label_dropout <= 1,
             "label_dropout", "must be in [0, 1]");
  lt.finish();

  Section smp = top.section("sampling");
  smp.read_choice("sampler", c.sampling.sampler, models::parse_sampler);
  smp.read("steps", c.sampling.steps);
  smp.read("cfg_scale", c.sampling.cfg_scale);
  smp.read("samples_per_label", c.sampling.samples_per_label);
  smp.require(c.sampling.steps >= 1 && c.sampling.steps <= c.diffusion.timesteps, "steps",
              "must be in [1, diffusion.timesteps]");
  smp.require(c.sampling.samples_per_label >= 1, "samples_per_label", "must be >= 1");
  smp.finish();

  top.finish();
  // The models check their own structure (channels vs groups, attention levels, betas) when
  // built, which takes milliseconds: build them once here to report problems against the file.
  try {
    models::VqVae vqvae(c.vqvae);
    models::UNet unet(c.unet);
    models::NoiseSchedule schedule(c.diffusion);
  } catch (const Error& e) {
    fail(source, ": ", e.what());
  }
  return c;
}

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) fail("cannot open config file ", path);
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
  if (j.is_discarded()) fail(path, ": not valid JSON");
  for (const std::string& o : overrides) apply_override(j, o, path);
  return parse_run_config(j, path);
}

json to_json(const RunConfig& c) {
  auto optimizer = [](const models::AdamWConfig& o) {
    return json{{"lr", o.lr},
                {"beta1", o.beta1},
                {"beta2", o.beta2},
                {"eps", o.eps},
                {"weight_decay", o.weight_decay},
                {"schedule", models::to_string(o.schedule)},
                {"warmup_steps", o.warmup_steps}};
  };
  json j;
  j["seed"] = c.seed;
  j["data"] = {{"file", c.data.file},
               {"image_size", c.data.image_size},
               {"train_subset", c.data.train_subset}};
  j["vqvae"] = {{"base_channels", c.vqvae.base_channels},
                {"channel_multipliers", c.vqvae.channel_multipliers},
                {"num_res_blocks", c.vqvae.num_res_blocks},
                {"latent_channels", c.vqvae.latent_channels},
                {"codebook_size", c.vqvae.codebook_size},
                {"codebook", codebook_mode_name(c.vqvae.codebook_mode)},
                {"beta", c.vqvae.beta},
                {"groups", c.vqvae.groups}};
  j["vqvae_training"] = {{"epochs", c.vqvae_training.epochs},
                         {"batch_size", c.vqvae_training.batch_size},
                         {"optimizer", optimizer(c.vqvae_training.optimizer)},
                         {"dead_code_restart_every", c.vqvae_training.dead_code_restart_every}};
  j["unet"] = {{"base_channels", c.unet.base_channels},
               {"channel_multipliers", c.unet.channel_multipliers},
               {"num_res_blocks", c.unet.num_res_blocks},
               {"attention_levels", c.unet.attention_levels},
               {"num_heads", c.unet.num_heads},
               {"num_classes", c.unet.num_classes},
               {"groups", c.unet.groups}};
  j["diffusion"] = {{"timesteps", c.diffusion.timesteps},
                    {"schedule", models::to_string(c.diffusion.schedule)},
                    {"beta_start", c.diffusion.beta_start},
                    {"beta_end", c.diffusion.beta_end}};
  j["ldm_training"] = {{"epochs", c.ldm_training.epochs},
                       {"batch_size", c.ldm_training.batch_size},
                       {"optimizer", optimizer(c.ldm_training.optimizer)},
                       {"ema_decay", c.ldm_training.ema_decay},
                       {"label_dropout", c.ldm_training.label_dropout}};
  j["sampling"] = {{"sampler", models::to_string(c.sampling.sampler)},
                   {"steps", c.sampling.steps},
                   {"cfg_scale", c.sampling.cfg_scale},
                   {"samples_per_label", c.sampling.samples_per_label}};
  return j;
}

}  // namespace ldm::tools
