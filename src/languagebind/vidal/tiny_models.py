"""Tiny random-initialised stand-ins for every pluggable model, saved in the real formats.

``languagebind build --make-tiny-models DIR`` writes them; ``configs/build/tiny.yaml`` uses them, so tests and
trial runs go through the real loading and inference code (``from_pretrained`` of transformers directories, a
MUNIT checkpoint in the sRGB-TIR layout) offline, in seconds. Their outputs are meaningless but deterministic.

=====================  =================================================================================
directory              what
=====================  =================================================================================
depth-glpn             GLPN (metric depth, as the official data) + its image processor
depth-dpt              DPT (relative inverse depth: flagged ``relative``)
depth-anything-metric  Depth-Anything with ``depth_estimation_type: metric``
thermal-munit          sRGB-TIR layout: ``tir2rgb_folder.yaml`` + ``translation_weights.pt`` ({'a', 'b'})
caption-blip           BLIP image captioning + BlipProcessor (WordPiece tokenizer built with `tokenizers`)
video-llava            LLaVA chat VLM (CLIP vision + Llama) + LlavaProcessor with a chat template
polish-lm              Llama causal LM + tokenizer with a chat template
=====================  =================================================================================
"""

from __future__ import annotations

from pathlib import Path

import torch

from languagebind.vidal import hf

_VOCAB_TEXT = """
    a an the this that of in on at with and or to from by for is are was be it its his her their there
    here man woman boy girl child people person dog cat bird horse fish car bus bike boat train plane
    street road park beach water sea river lake snow grass tree forest house room kitchen table food
    cake ball game music guitar song sound noise voice wind rain fire light sky sun night day red blue
    green white black small big young old playing running walking jumping riding cooking eating singing
    dancing talking swimming sitting standing holding looking video picture image scene view shows
    showing describes . , !
"""
VOCAB = tuple(_VOCAB_TEXT.split())
MODELS = ("depth-glpn", "depth-dpt", "depth-anything-metric", "thermal-munit", "caption-blip", "video-llava",
          "polish-lm")
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{% if m['content'] is string %} {{ m['content'] }}{% else %}"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>{% elif c['type'] == 'text' %} {{ c['text'] }}"
    "{% endif %}{% endfor %}{% endif %} </s>{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}")


def make_tiny_models(directory: str | Path) -> list[Path]:
    """Write every tiny model under ``directory``; returns their directories."""
    root = Path(directory)
    writers = {"depth-glpn": _glpn, "depth-dpt": _dpt, "depth-anything-metric": _depth_anything,
               "thermal-munit": _munit, "caption-blip": _blip, "video-llava": _llava, "polish-lm": _llama}
    written = []
    with hf.quiet():  # everything is built from code: nothing is fetched
        for name in MODELS:
            torch.manual_seed(0)
            target = root / name
            target.mkdir(parents=True, exist_ok=True)
            writers[name](target)
            written.append(target)
    return written


def _word_tokenizer(specials: list[str], bert: bool) -> object:
    """A lower-casing WordPiece tokenizer over `VOCAB` (whole words only), built offline."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = {token: i for i, token in enumerate([*specials, *VOCAB])}
    tokenizer = Tokenizer(models.WordPiece(vocab=vocab, unk_token=specials[1]))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    if bert:
        from transformers import BertTokenizerFast

        tokenizer.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
        return BertTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                 sep_token="[SEP]", mask_token="[MASK]", bos_token="[DEC]")
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", unk_token="<unk>", bos_token="<s>",
                                   eos_token="</s>", additional_special_tokens=specials[4:],
                                   chat_template=CHAT_TEMPLATE)


LM_SPECIALS = ["<pad>", "<unk>", "<s>", "</s>", "<image>", "<|user|>", "<|assistant|>"]


def _llama_config(vocab_size: int) -> object:
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=2048, pad_token_id=0,
                       bos_token_id=2, eos_token_id=3)


def _glpn(target: Path) -> None:
    from transformers import GLPNConfig, GLPNForDepthEstimation, GLPNImageProcessor

    config = GLPNConfig(depths=[1, 1, 1, 1], hidden_sizes=[8, 16, 24, 32], num_attention_heads=[1, 1, 1, 1],
                        mlp_ratios=[2, 2, 2, 2], decoder_hidden_size=16, max_depth=10)
    GLPNForDepthEstimation(config).save_pretrained(target)
    GLPNImageProcessor(size_divisor=32).save_pretrained(target)


def _dpt(target: Path) -> None:
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    config = DPTConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                       image_size=64, patch_size=16, backbone_out_indices=[0, 1, 2, 3],
                       neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16, reassemble_factors=[4, 2, 1, 0.5])
    DPTForDepthEstimation(config).save_pretrained(target)
    DPTImageProcessor(size={"height": 64, "width": 64}, keep_aspect_ratio=False).save_pretrained(target)


def _depth_anything(target: Path) -> None:
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    backbone = Dinov2Config(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                            image_size=56, patch_size=14, out_features=["stage1", "stage2", "stage3", "stage4"],
                            reshape_hidden_states=False)
    config = DepthAnythingConfig(backbone_config=backbone, patch_size=14, reassemble_hidden_size=32,
                                 neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16, head_hidden_size=8,
                                 depth_estimation_type="metric", max_depth=20)
    DepthAnythingForDepthEstimation(config).save_pretrained(target)
    DPTImageProcessor(size={"height": 56, "width": 56}, keep_aspect_ratio=True, ensure_multiple_of=14,
                      do_pad=False).save_pretrained(target)


def _munit(target: Path) -> None:
    import yaml

    from languagebind.vidal.munit import AdaINGen

    gen = {"dim": 8, "mlp_dim": 16, "style_dim": 8, "activ": "relu", "n_downsample": 2, "n_res": 1,
           "pad_type": "reflect"}
    config = {"gen": gen, "input_dim_a": 3, "input_dim_b": 3, "new_size_a": 640, "new_size_b": 400,
              "crop_image_height": 400, "crop_image_width": 640}
    (target / "tir2rgb_folder.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    torch.save({"a": AdaINGen(3, gen).state_dict(), "b": AdaINGen(3, gen).state_dict()},
               target / "translation_weights.pt")


def _blip(target: Path) -> None:
    from transformers import BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    tokenizer = _word_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"], bert=True)
    ids = tokenizer.get_vocab()
    text = {"vocab_size": len(ids), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 2, "max_position_embeddings": 64, "encoder_hidden_size": 32,
            "bos_token_id": ids["[DEC]"], "eos_token_id": ids["[SEP]"], "sep_token_id": ids["[SEP]"],
            "pad_token_id": ids["[PAD]"]}
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
              "image_size": 64, "patch_size": 16}
    model = BlipForConditionalGeneration(BlipConfig(text_config=text, vision_config=vision, projection_dim=32))
    with torch.no_grad():  # BLIP's generate ignores the generation config's token suppression: bias the logits
        bias = model.text_decoder.cls.predictions.bias
        bias[[ids[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[MASK]", "[DEC]")]] = -20.0
        bias[ids["[SEP]"]] = -3.0  # a random model would often stop at once
    model.save_pretrained(target)
    BlipProcessor(image_processor=BlipImageProcessor(size={"height": 64, "width": 64}),
                  tokenizer=tokenizer).save_pretrained(target)


def _llava(target: Path) -> None:
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tokenizer = _word_tokenizer(LM_SPECIALS, bert=False)
    tokenizer.image_token = "<image>"
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=32, patch_size=16, projection_dim=32)
    config = LlavaConfig(vision_config=vision, text_config=_llama_config(len(tokenizer)),
                         image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
                         vision_feature_select_strategy="default", vision_feature_layer=-1)
    model = LlavaForConditionalGeneration(config)
    model.generation_config.suppress_tokens = list(range(len(LM_SPECIALS)))
    model.generation_config.suppress_tokens.remove(3)  # keep </s>: answers may end
    model.save_pretrained(target)
    processor = LlavaProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                                  crop_size={"height": 32, "width": 32}),
                               tokenizer=tokenizer, patch_size=16, vision_feature_select_strategy="default",
                               chat_template=CHAT_TEMPLATE, num_additional_image_tokens=1)
    processor.save_pretrained(target)


def _llama(target: Path) -> None:
    from transformers import LlamaForCausalLM

    tokenizer = _word_tokenizer(LM_SPECIALS, bert=False)
    model = LlamaForCausalLM(_llama_config(len(tokenizer)))
    model.generation_config.suppress_tokens = [i for i in range(len(LM_SPECIALS)) if i != 3]
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
