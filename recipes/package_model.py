"""Copy a trained LoRA run into the package as `codescaler-mini`: adapter, head, tokenizer, config, card.

    python recipes/package_model.py runs/codescaler-mini/model [src/codescaler/models/codescaler-mini]

Checkpoints and optimizer state stay behind; the adapter's recorded base path (a local folder on the
training machine) is replaced by the packaged base name, which is how `RewardModel.from_pretrained`
finds it on any machine.
"""

import json
import shutil
import sys
from pathlib import Path

# The tokenizer is the base's (loaded with it), so it is not copied: the package stays a few MB.
KEEP = ("adapter_config.json", "adapter_model.safetensors", "codescaler_config.json", "report.json")


def main() -> None:
    run = Path(sys.argv[1])
    dest = Path(sys.argv[2] if len(sys.argv) > 2 else "src/codescaler/models/codescaler-mini")
    dest.mkdir(parents=True, exist_ok=True)
    for name in KEEP:
        if (run / name).exists():
            shutil.copy2(run / name, dest / name)
    config = json.loads((dest / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = json.loads((dest / "codescaler_config.json").read_text())["base_model"]
    # peft appends its task's head names again each time an adapter is reloaded to train further
    config["modules_to_save"] = list(dict.fromkeys(config.get("modules_to_save") or []))
    (dest / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    report = json.loads((dest / "report.json").read_text())
    report.pop("log_history", None)  # the full curve stays with the run
    (dest / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    size = sum(f.stat().st_size for f in dest.iterdir())
    print(f"packaged {run} -> {dest} ({size / 1e6:.1f} MB)")  # noqa: T201


if __name__ == "__main__":
    main()
