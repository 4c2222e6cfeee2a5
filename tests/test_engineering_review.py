"""Engineering review: studies whose conclusion an experienced engineer can state before running
the tool (JUDGMENT.md), written as assertions on data.json (``StudyResult`` dumped as JSON).

Each case states, from first principles, which plan class a team would pick, which constraint
breaks first, which constraints cannot be judged (and so must not pass), and which hypotheses
must be absent. Every case also passes the house invariants (``_invariants``): no pass for an
unjudged constraint, no margin between unlike quantities, no lower bound ranked above a full
prediction, no power taken from a supply rating.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from reportgen.pipeline import run
from reportgen.spec.load import parse_spec


def _spec(card: str, platform: str, constraints: str, precisions: str = "[fp32, fp16, int8]",
          inputs: str = "") -> str:
    return (f'title: "review {card} on {platform}"\nmodel:\n  card: {card}\nplatform: {platform}\n'
            f"{inputs}constraints:\n{constraints}precisions: {precisions}\n")


#: id → (spec text, domain, platform class)
CASES: dict[str, tuple[str, str, str]] = {
    # --- CV
    "resnet18_pi5_meets": (_spec("resnet18", "raspberry_pi_5",
                                 "  latency_ms: 500\n  memory_mb: 1024\n  power_w: 12\n"
                                 "  sensor: {width: 1280, height: 720, channels: 3, rate_hz: 1}\n"),
                           "cv", "budget"),
    "resnet50_pi5_too_slow": (_spec("resnet50", "raspberry_pi_5",
                                    "  latency_ms: 5\n  power_w: 12\n"), "cv", "budget"),
    "mobilenet_pi4_meets": (_spec("mobilenet_v2", "raspberry_pi_4",
                                  "  latency_ms: 1000\n  memory_mb: 512\n  power_w: 7\n"),
                            "cv", "budget"),
    "resnet18_orin_power_budget": (_spec("resnet18", "nvidia_jetson_orin_nano_8gb",
                                         "  latency_ms: 50\n  power_w: 15\n"), "cv", "budget"),
    "resnet18_orin_generous_power": (_spec("resnet18", "nvidia_jetson_orin_nano_8gb",
                                           "  latency_ms: 50\n  power_w: 30\n"), "cv", "budget"),
    "mobilenet_coral_no_host": (_spec("mobilenet_v2", "google_coral_edge_tpu",
                                      "  latency_ms: 50\n  power_w: 5\n"
                                      "  sensor: {width: 640, height: 480, channels: 3, rate_hz: 30}\n",
                                      precisions="[int8]"), "cv", "specialized"),
    "resnet18_h100_meets": (_spec("resnet18", "nvidia_h100_sxm",
                                  "  latency_ms: 100\n  power_w: 700\n"), "cv", "powerful"),
    # --- NLP
    "distilbert_xeon_meets": (_spec("distilbert_base_uncased", "intel_xeon_platinum_8480plus",
                                    "  latency_ms: 1000\n  memory_mb: 8192\n",
                                    precisions="[fp32, bf16, int8]"), "nlp", "cpu"),
    "bert_m2_power_unsourced": (_spec("bert_base_uncased", "apple_m2",
                                      "  latency_ms: 100\n  power_w: 20\n"), "nlp", "specialized"),
    "distilbert_t4_memory_fail": (_spec("distilbert_base_uncased", "nvidia_t4",
                                        "  latency_ms: 100\n  memory_mb: 150\n  power_w: 70\n"),
                                  "nlp", "powerful"),
    "bert_orin_nano_latency": (_spec("bert_base_uncased", "nvidia_jetson_orin_nano_8gb",
                                     "  latency_ms: 20\n  memory_mb: 2048\n",
                                     inputs="inputs:\n  text: {sequence_length: 128}\n"),
                               "nlp", "budget"),
    # --- Speech
    "ds_cnn_stm32_mcu": (_spec("ds_cnn_s", "st_stm32h743",
                               "  latency_ms: 100\n  memory_mb: 0.5\n  power_w: 0.5\n"
                               "  energy_mj: 20\n", precisions="[fp32, int8]"), "speech", "mcu"),
    "ds_cnn_esp32_all_unknown": (_spec("ds_cnn_s", "espressif_esp32_s3",
                                       "  latency_ms: 100\n  memory_mb: 8\n  power_w: 0.5\n",
                                       precisions="[fp32, int8]"), "speech", "mcu"),
    "wav2vec2_snapdragon_unknown_peak": (_spec("wav2vec2_base", "qualcomm_snapdragon_8_gen3",
                                               "  latency_ms: 300\n  memory_mb: 512\n"
                                               "  power_w: 5\n"), "speech", "specialized"),
    # --- RecSys
    "ncf_kv260_fpga": (_spec("ncf", "amd_kria_kv260", "  latency_ms: 1\n  memory_mb: 64\n"
                             "  power_w: 10\n", precisions="[fp32, int8]"), "recsys", "fpga"),
    "dlrm_t4_power_at_tdp": (_spec("dlrm", "nvidia_t4", "  latency_ms: 10\n  power_w: 70\n"),
                             "recsys", "powerful"),
    "two_tower_epyc_meets": (_spec("two_tower", "amd_epyc_9654",
                                   "  latency_ms: 100\n  memory_mb: 4096\n  power_w: 360\n",
                                   precisions="[fp32, bf16, int8]"), "recsys", "cpu"),
}


@cache
def _data(case: str) -> dict[str, Any]:
    spec = parse_spec(CASES[case][0], f"{case}.yaml")
    return run(spec, deterministic=True).model_dump(mode="json")


def _verdict(d: dict[str, Any], name: str) -> dict[str, Any]:
    return next(v for v in d["verdicts"] if v["name"] == name)


def _hyp(d: dict[str, Any], hid: str) -> dict[str, Any] | None:
    return next((h for h in d["hypotheses"]["items"] if h["id"] == hid), None)


def _plan(d: dict[str, Any]) -> dict[str, Any] | None:
    rec = d["hypotheses"]["recommended"]
    return _hyp(d, rec) if rec else None


def _invariants(d: dict[str, Any]) -> None:
    has_link = False
    for v in d["verdicts"]:
        if v["verdict"] == "pass":
            assert v["predicted"] is not None, f"{v['name']} passes without a value"
            assert v["bound"] != "lower", f"{v['name']} passes on a lower bound of an upper limit"
        if v["margin"] is not None:
            assert v["verdict"] in ("pass", "fail")
        if v["name"] == "power_w" and v["bound"] == "upper":
            assert v["verdict"] != "fail", "an upper bound above the budget proves nothing"
        if v["name"] == "input_bandwidth_mb_s":
            has_link = "link" in str(v["basis_msgs"][0]["params"].get("via", {}).get("code", ""))
            if not has_link:  # the stream against DRAM bandwidth is not like with like
                assert v["margin"] is None and v["verdict"] == "unknown"
    ftb = d["first_to_break"]
    if ftb is not None:
        assert ftb["verdict"] in ("pass", "fail")
    for pe in d["roofline"]["per_precision"]:
        # a supply rating is never a draw: energy from it can only be an upper bound
        if pe["energy_per_sample_mj"] is not None and "psu_w" in str(pe["power_basis_msg"]):
            assert pe["energy_bound"] == "upper"
    H = d["hypotheses"]
    if H is None:
        return
    items = [h for h in H["items"] if h["applicable"] and h["after"]]
    full = [h["rank"] for h in items if not h["after"]["lower_bound"]]
    lower = [h["rank"] for h in items if h["after"]["lower_bound"]]
    if full and lower:
        assert max(full) < min(lower) or any(
            "changes_requirement" in n or "student_other_task" in n
            for h in items for n in h["notes"]), "a lower bound outranks a full prediction"
    plan = _plan(d)
    if plan is not None and not H["baseline"]["lower_bound"]:
        assert not plan["after"]["lower_bound"], "the plan rests on a lower bound"
    if H["plan_kind"] == "none_needed":
        assert H["baseline_fails"] == []
        assert plan is None or plan["after"]["platform_id"] == d["platform"]["id"]
    if H["plan_kind"] == "measure_first":  # nothing judged fails, but latency/throughput unknown
        assert H["baseline_fails"] == []
        assert {"latency_ms", "throughput_per_s"} & set(H["to_measure"])
        assert plan is None or plan["after"]["platform_id"] == d["platform"]["id"]
    if H["plan_kind"] == "power_mode":  # a mode of the given target that settles the power budget
        assert plan is not None and plan["after"]["platform_id"] == d["platform"]["id"]
        assert all(o["verdict_after"] != "fail" for o in plan["constraints"])
    if H["plan_kind"] == "new_hardware":  # only when nothing on the given target closes the gaps
        for h in items:
            if h["after"]["platform_id"] == d["platform"]["id"] and h["cls"] != "combined":
                assert any(o["verdict_after"] == "fail" for o in h["constraints"]), h["id"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_review_invariants(case: str) -> None:
    _invariants(_data(case))


def test_cases_cover_domains_and_platform_classes() -> None:
    assert {d for _, d, _ in CASES.values()} == {"cv", "nlp", "speech", "recsys"}
    assert {c for _, _, c in CASES.values()} >= {"powerful", "budget", "specialized", "fpga",
                                                 "mcu", "cpu"}
    assert len(CASES) >= 15


# ------------------------------------------------------------------------- the conclusions

def test_pi5_resnet18_meets_so_no_new_hardware() -> None:
    # ResNet-18 (1.8 GMAC) on four A76 cores at fp32 is tens of ms, far under 500 ms
    d = _data("resnet18_pi5_meets")
    H = d["hypotheses"]
    assert H["plan_kind"] == "none_needed"
    assert _verdict(d, "latency_ms")["verdict"] == "pass"
    # the Pi's only power figure is its 27 W supply: an upper bound above 12 W settles nothing
    p = _verdict(d, "power_w")
    assert p["verdict"] == "unknown" and p["bound"] == "upper" and p["predicted"] == 27.0
    assert p["to_measure"]["code"] == "power2.measure_meter"
    assert "power_w" in H["to_measure"]
    # the camera stream arrives over CSI-2, not DRAM: no margin against memory bandwidth
    bw = _verdict(d, "input_bandwidth_mb_s")
    assert bw["verdict"] == "unknown" and bw["margin"] is None
    assert _verdict(d, "memory_mb")["verdict"] == "pass"


def test_pi5_resnet50_at_5ms_breaks_on_latency_and_hailo_power_is_the_whole_system() -> None:
    d = _data("resnet50_pi5_too_slow")
    assert d["first_to_break"]["name"] == "latency_ms"
    assert d["first_to_break"]["verdict"] == "fail"
    assert "latency_ms" in d["hypotheses"]["baseline_fails"]
    hailo = _hyp(d, "hw_hailo_8")
    if hailo is not None:  # Pi + Hailo: the Pi's draw (≤ 27 W supply) is part of the system
        power = next(o for o in hailo["constraints"] if o["name"] == "power_w")
        assert power["verdict_after"] == "unknown"


def test_pi4_mobilenet_meets_no_accelerator_bought() -> None:
    d = _data("mobilenet_pi4_meets")
    H = d["hypotheses"]
    assert H["plan_kind"] == "none_needed"
    plan = _plan(d)
    assert plan is None or plan["cls"] != "hardware"


def test_orin_nano_power_budget_is_a_power_mode_question() -> None:
    d = _data("resnet18_orin_power_budget")
    # the default 25 W mode is a cap on the draw, not the draw: above 15 W it proves nothing
    p = _verdict(d, "power_w")
    assert p["verdict"] == "unknown" and p["predicted"] == 25.0 and p["bound"] == "upper"
    mode = _hyp(d, "power_mode_15w")
    assert mode is not None and mode["cls"] == "hardware"
    after = next(o for o in mode["constraints"] if o["name"] == "power_w")
    assert after["verdict_after"] == "pass" and after["after"] == 15.0
    assert mode["after"]["platform_id"] == "nvidia_jetson_orin_nano_8gb"
    # the 15 W mode is slower (original clocks, 68 GB/s): a speed-up below 1
    assert mode["speedup"] < 1.0
    # no Orin Nano plan buys another device for a power budget
    plan = _plan(d)
    assert plan is None or plan["after"]["platform_id"] == "nvidia_jetson_orin_nano_8gb"


def test_orin_nano_power_budget_plan_is_the_15w_mode() -> None:
    # ResNet-18 meets 50 ms even in the 15 W mode; at 25 W the draw is not shown to fit 15 W:
    # the plan is "run at the 15 W mode", not "no acceleration needed" in a mode that may not fit
    d = _data("resnet18_orin_power_budget")
    H = d["hypotheses"]
    assert H["plan_kind"] == "power_mode" and H["recommended"] == "power_mode_15w"
    plan = _plan(d)
    assert plan is not None and all(o["verdict_after"] != "fail" for o in plan["constraints"])
    assert next(o for o in plan["constraints"] if o["name"] == "latency_ms")["verdict_after"] == "pass"
    if H["runner_up"] is not None and not H["runner_up"].startswith("power_mode_"):
        assert H["runner_up_lost"] == "findings.plan2.lost_power"


def test_orin_nano_top_mode_within_budget_needs_no_power_mode() -> None:
    d = _data("resnet18_orin_generous_power")  # 30 W budget: the 25 W top mode already fits
    assert d["hypotheses"]["plan_kind"] == "none_needed"


def test_orin_nano_within_top_mode_budget_passes() -> None:
    d = _data("resnet18_orin_generous_power")
    p = _verdict(d, "power_w")
    assert p["verdict"] == "pass" and p["bound"] == "upper"
    assert p["margin"] == pytest.approx((30 - 25) / 30)


def test_coral_without_host_power_is_not_a_pass() -> None:
    d = _data("mobilenet_coral_no_host")
    p = _verdict(d, "power_w")
    assert p["verdict"] == "unknown"  # the host's draw is missing from the sum
    assert p["to_measure"]["code"] == "power2.measure_system"
    bw = _verdict(d, "input_bandwidth_mb_s")  # the stream crosses the USB link: like with like
    assert bw["verdict"] in ("pass", "fail") and bw["margin"] is not None


def test_h100_resnet18_meets_and_tdp_is_an_upper_bound() -> None:
    d = _data("resnet18_h100_meets")
    assert d["hypotheses"]["plan_kind"] == "none_needed"
    p = _verdict(d, "power_w")
    assert p["verdict"] == "pass" and p["bound"] == "upper" and p["predicted"] == 700.0


def test_xeon_distilbert_meets_no_server_bought() -> None:
    d = _data("distilbert_xeon_meets")
    assert d["hypotheses"]["plan_kind"] == "none_needed"
    assert d["first_to_break"]["verdict"] == "pass"


def test_m2_power_claim_is_unknown_not_pass() -> None:
    d = _data("bert_m2_power_unsourced")
    p = _verdict(d, "power_w")
    assert p["verdict"] == "unknown" and p["predicted"] is None
    assert "power_w" in d["hypotheses"]["to_measure"]


def test_t4_memory_gap_closed_in_software_on_the_t4() -> None:
    # DistilBERT's 66 M parameters are 265 MB at fp32 and 66 MB at int8: a 150 MB budget
    # is a quantization question on the same card, not a bigger GPU
    d = _data("distilbert_t4_memory_fail")
    assert d["first_to_break"]["name"] == "memory_mb"
    assert d["first_to_break"]["verdict"] == "fail"
    H = d["hypotheses"]
    assert H["plan_kind"] in ("software", "combined")
    plan = _plan(d)
    assert plan is not None and plan["after"]["platform_id"] == "nvidia_t4"
    assert all(o["verdict_after"] != "fail" for o in plan["constraints"])


def test_orin_nano_bert_int8_ptq_before_2_4_pruning() -> None:
    # both close the 20 ms gap on the Orin Nano; 2:4 sparsity needs fine-tuning with the mask and
    # a sparse runtime, post-training int8 needs only calibration: a team tries PTQ first
    from reportgen.analysis.hypotheses.models import HypothesesReport
    from reportgen.analysis.hypotheses.plan import choose_plan

    d = _data("bert_orin_nano_latency")
    assert "latency_ms" in d["hypotheses"]["baseline_fails"]
    H = HypothesesReport.model_validate(d["hypotheses"])
    ptq, sparse = H.get("quant_int8"), H.get("prune_2_4")
    assert ptq is not None and sparse is not None
    for h in (ptq, sparse):
        assert all(o.verdict_after != "fail" for o in h.constraints), h.id
    assert "findings.prereq.finetune" in sparse.prerequisites
    assert "findings.prereq.finetune" not in ptq.prerequisites
    rec, kind, runner, lost = choose_plan([sparse, ptq], "nvidia_jetson_orin_nano_8gb")
    assert (rec, kind, runner, lost) == ("quant_int8", "software", "prune_2_4",
                                         "findings.plan2.lost_effort")
    plan = _plan(d)  # the overall plan is no more effort than PTQ
    assert plan is not None and plan["id"] != "prune_2_4"
    assert plan["after"]["platform_id"] == "nvidia_jetson_orin_nano_8gb"


def test_stm32_power_unsourced_memory_judged() -> None:
    d = _data("ds_cnn_stm32_mcu")
    assert _verdict(d, "power_w")["verdict"] == "unknown"
    assert _verdict(d, "energy_mj")["verdict"] == "unknown"
    assert _verdict(d, "memory_mb")["verdict"] in ("pass", "fail")


def test_esp32_unknown_peaks_still_judge_memory_and_claim_no_pass() -> None:
    d = _data("ds_cnn_esp32_all_unknown")
    lat = _verdict(d, "latency_ms")
    assert lat["verdict"] == "unknown" and lat["reason_msg"] is not None
    mem = _verdict(d, "memory_mb")  # counted: weights + activations exist without a peak
    assert mem["verdict"] == "pass" and mem["origin"] == "counted"
    assert _verdict(d, "power_w")["verdict"] == "unknown"


def test_snapdragon_unknown_peak_latency_not_judged() -> None:
    d = _data("wav2vec2_snapdragon_unknown_peak")
    lat = _verdict(d, "latency_ms")
    assert lat["verdict"] == "unknown" and lat["margin"] is None
    assert _verdict(d, "memory_mb")["verdict"] in ("pass", "fail")
    assert d["first_to_break"] is None or d["first_to_break"]["name"] != "latency_ms"


def test_unknown_latency_means_measure_first_not_no_acceleration_needed() -> None:
    # the STM32's and the Snapdragon's peaks are unsourced: latency is at best a lower bound, so
    # "no acceleration needed" cannot be said; an engineer measures the latency on the board first
    for case in ("ds_cnn_stm32_mcu", "wav2vec2_snapdragon_unknown_peak"):
        d = _data(case)
        H = d["hypotheses"]
        assert _verdict(d, "latency_ms")["verdict"] == "unknown", case
        assert "latency_ms" in H["to_measure"], case
        assert H["plan_kind"] == "measure_first", case
        plan = _plan(d)  # the fallback, if any, is software on the given target
        assert plan is None or (plan["after"]["platform_id"] == d["platform"]["id"]
                                and plan["cls"] not in ("hardware", "combined")), case


def test_judged_latency_that_passes_stays_none_needed() -> None:
    d = _data("distilbert_xeon_meets")
    assert _verdict(d, "latency_ms")["verdict"] == "pass"
    assert d["hypotheses"]["plan_kind"] == "none_needed"


def test_kv260_reference_design_power_is_not_this_designs_draw() -> None:
    d = _data("ncf_kv260_fpga")
    p = _verdict(d, "power_w")
    assert p["verdict"] == "unknown"


def test_t4_dlrm_power_at_tdp_passes_as_upper_bound() -> None:
    d = _data("dlrm_t4_power_at_tdp")
    p = _verdict(d, "power_w")
    assert p["verdict"] == "pass" and p["bound"] == "upper" and p["margin"] == 0.0


def test_epyc_two_tower_meets_no_new_server() -> None:
    d = _data("two_tower_epyc_meets")
    assert d["hypotheses"]["plan_kind"] == "none_needed"
    plan = _plan(d)
    assert plan is None or plan["after"]["platform_id"] == "amd_epyc_9654"
