"""OCR character accuracy: ``vision.ocr`` beside rapidocr called directly, on 200 strings rendered in Debian fonts.

Data: ``--strings`` strings (default 200), half Latin, half Chinese, drawn by a seeded generator:
Latin lines of 2 to 5 English words with numbers, prices and punctuation, in DejaVu Sans, Serif and
Sans Mono (``fonts-dejavu-core``); Chinese lines of 2 to 4 common words, some with digits, in
WenQuanYi Zen Hei (``fonts-wqy-zenhei``). Each string is drawn black on white on its own page
(Pillow, 24 to 34 px), kept as PNG bytes.

Both sides run in this one process on the same PNG bytes, interleaved in chunks of ``--chunk``
images (the side that goes first alternates), so that a change in the machine's load falls on both:

- Tidal: ``vision.ocr`` on a table of the chunk's images (one call per chunk, default thresholds);
- direct: ``rapidocr_onnxruntime.RapidOCR()`` (its defaults) called on each image's bytes.

Character accuracy is 1 - (edit distance / reference length), summed over all strings, with
whitespace removed on both sides (the detector splits a line into word boxes; Chinese has no
spaces); a string's text is its boxes' texts in reading order. Reports accuracy per script and in
all, exact-match counts, whether both sides gave identical text for every image, the median wall
times, their ratio, the machine and the load average.

    PYTHONPATH=src nice -n 10 python benchmarks/ocr_accuracy.py [--strings 200] [--chunk 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import statistics
import subprocess
import time
from pathlib import Path

import pandas as pd

LATIN_FONTS = [Path("/usr/share/fonts/truetype/dejavu") / name for name in
               ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf")]
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
LATIN_WORDS = ("invoice order total amount customer account balance payment received shipping address "
               "delivery quarterly report revenue growth market share product service quality support "
               "meeting schedule monday friday october december north south station platform train ticket "
               "window seat coffee bread cheese apple garden river bridge museum library hospital school "
               "office number street avenue model training accuracy dataset pipeline cluster server").split()
CJK_WORDS = ("机器 学习 平台 数据 模型 训练 预测 分析 系统 服务 用户 信息 管理 技术 公司 市场 北京 上海 "
             "中国 城市 时间 今天 明天 学校 老师 学生 医院 银行 电话 地址 价格 商品 订单 支付 发票 金额 "
             "天气 晴朗 下雨 欢迎 使用 注意 安全 出口 入口 车站 列车 票价 会议 报告 年度 增长 质量 文字 "
             "识别 图像 语音 网络 计算 中心 研究 发展 科学 工程 设计").split()


def strings(count: int, seed: int) -> list[tuple[str, str, Path]]:
    """(script, text, font) for ``count`` strings, half Latin and half Chinese."""
    rng = random.Random(seed)
    made = []
    for index in range(count):
        if index % 2 == 0:
            words = [rng.choice(LATIN_WORDS) for _ in range(rng.randint(2, 5))]
            words[0] = words[0].capitalize()
            extra = rng.choice(["", f" {rng.randint(1, 999)}", f" {rng.randint(1, 99)}.{rng.randint(0, 99):02d} EUR",
                                f" #{rng.randint(100, 9999)}", f", {rng.randint(2000, 2030)}"])
            made.append(("latin", " ".join(words) + extra, LATIN_FONTS[rng.randrange(len(LATIN_FONTS))]))
        else:
            words = [rng.choice(CJK_WORDS) for _ in range(rng.randint(2, 4))]
            extra = rng.choice(["", "", f"{rng.randint(1, 99)}号", f"{rng.randint(2000, 2030)}年"])
            made.append(("chinese", "".join(words) + extra, CJK_FONT))
    return made


def render(text: str, font_path: Path, size: int) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_path), size)
    left, top, right, bottom = font.getbbox(text)
    width = right - left + 48
    page = Image.new("RGB", (width, max(bottom - top + 48, width * 2 // 3)), "white")
    ImageDraw.Draw(page).text((24 - left, (page.height - (bottom - top)) // 2 - top), text, fill="black", font=font)
    encoded = io.BytesIO()
    page.save(encoded, format="PNG")
    return encoded.getvalue()


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def squeeze(text: str) -> str:
    return "".join(text.split())


def run_tidal(images: list[bytes], threads: int | None) -> tuple[list[str], float]:
    from tidal.components.vision_ocr import ocr

    began = time.perf_counter()
    lines = ocr(pd.DataFrame({"image": images}), threads=threads)
    elapsed = time.perf_counter() - began
    texts = ["".join(lines.loc[lines["row"] == row].sort_values("line")["text"]) for row in range(len(images))]
    return texts, elapsed


def run_direct(engine: object, images: list[bytes]) -> tuple[list[str], float]:
    began = time.perf_counter()
    texts = []
    for image in images:
        result, _ = engine(image)  # type: ignore[operator]
        texts.append("".join(text for _, text, _ in (result or [])))
    return texts, time.perf_counter() - began


def accuracy(references: list[str], found: list[str]) -> tuple[float, int]:
    errors = sum(edit_distance(squeeze(ref), squeeze(hyp)) for ref, hyp in zip(references, found, strict=True))
    total = sum(len(squeeze(ref)) for ref in references)
    exact = sum(squeeze(ref) == squeeze(hyp) for ref, hyp in zip(references, found, strict=True))
    return 1 - errors / total, exact


def machine() -> str:
    try:
        info = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
        model = fields.get("Model name", "?").strip()
        flags = fields.get("Flags", "")
        simd = ",".join(flag for flag in ("avx2", "avx512f", "avx512_vnni", "amx_tile") if f" {flag}" in f" {flags}")
    except (OSError, subprocess.SubprocessError):
        model, simd = platform.processor() or "?", "?"
    return f"{model} ({simd}), {os.cpu_count()} CPUs, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strings", type=int, default=200)
    parser.add_argument("--chunk", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    missing = [str(font) for font in (*LATIN_FONTS, CJK_FONT) if not font.is_file()]
    if missing:
        raise SystemExit(f"missing fonts {missing}: run scripts/system-deps.sh")
    import onnxruntime
    import rapidocr_onnxruntime  # noqa: F401

    rng = random.Random(args.seed + 1)
    made = strings(args.strings, args.seed)
    images = [render(text, font, rng.randint(24, 34)) for _, text, font in made]
    references = [text for _, text, _ in made]
    print(f"machine: {machine()}; onnxruntime {onnxruntime.__version__}; load average at start "
          f"{os.getloadavg()[0]:.1f}")
    from rapidocr_onnxruntime import RapidOCR

    direct_engine = RapidOCR() if args.threads is None else RapidOCR(intra_op_num_threads=args.threads)
    run_tidal(images[:1], args.threads)  # both engines built and warm before the clock starts
    run_direct(direct_engine, images[:1])
    tidal_times, direct_times = [], []
    tidal_texts: list[str] = []
    direct_texts: list[str] = []
    for number, start in enumerate(range(0, len(images), args.chunk)):
        chunk = images[start:start + args.chunk]
        sides = ["tidal", "direct"] if number % 2 == 0 else ["direct", "tidal"]
        for side in sides:
            if side == "tidal":
                texts, elapsed = run_tidal(chunk, args.threads)
                tidal_texts += texts
                tidal_times.append(elapsed)
            else:
                texts, elapsed = run_direct(direct_engine, chunk)
                direct_texts += texts
                direct_times.append(elapsed)
    print(f"{len(made)} strings ({sum(script == 'latin' for script, _, _ in made)} Latin, "
          f"{sum(script == 'chinese' for script, _, _ in made)} Chinese)")
    print("| side | script | character accuracy | exact strings |")
    print("| --- | --- | ---: | ---: |")
    for side, texts in (("vision.ocr", tidal_texts), ("rapidocr direct", direct_texts)):
        for script in ("latin", "chinese", "all"):
            chosen = [i for i, (kind, _, _) in enumerate(made) if script in ("all", kind)]
            score, exact = accuracy([references[i] for i in chosen], [texts[i] for i in chosen])
            print(f"| {side} | {script} | {score:.4f} | {exact}/{len(chosen)} |")
    same = sum(a == b for a, b in zip(tidal_texts, direct_texts, strict=True))
    print(f"identical text on {same}/{len(images)} images")
    misses = [(references[i], tidal_texts[i]) for i in range(len(made)) if squeeze(references[i]) != squeeze(tidal_texts[i])]
    for reference, found in misses[:12]:
        print(f"  miss: {reference!r} -> {found!r}")
    ratios = [ours / theirs for ours, theirs in zip(tidal_times, direct_times, strict=True)]
    print(f"wall time over {len(tidal_times)} interleaved chunks: vision.ocr {sum(tidal_times):.1f} s, direct "
          f"{sum(direct_times):.1f} s (ratio of totals {sum(tidal_times) / sum(direct_times):.3f}); per chunk median "
          f"{statistics.median(tidal_times):.1f} s vs {statistics.median(direct_times):.1f} s, median chunk ratio "
          f"{statistics.median(ratios):.3f} (range {min(ratios):.2f}-{max(ratios):.2f}); load average at end "
          f"{os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
