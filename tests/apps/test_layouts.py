"""Every model type lands in each app's folder for it, as the right link kind, resolving to the
library's bytes; nowhere else. Idempotent re-sync; a user's file is never replaced."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from modelshelf.apps import ApplyStatus, LinkKind, PlacementMethod
from modelshelf.shelf import Shelf

from .conftest import LAYOUTS, app_config, import_every_type, shelf_config

LLM = "Llama-3.2-1B-Instruct-Q4_K_M.gguf"
MMPROJ = "mmproj-Llama-3.2-1B-F16.gguf"
PIPE = "sdxl-base/unet/diffusion_pytorch_model.safetensors"    # one file of the diffusers folder

# kind -> {type: the link, relative to the install root}; a type not listed goes nowhere.
EXPECTED: dict[str, dict[str, str]] = {
    "comfyui": {
        "checkpoint": "models/checkpoints/juggernautXL.safetensors",
        "diffusion_model": "models/diffusion_models/flux1-dev-Q4_0.gguf",
        "lora": "models/loras/detail.safetensors", "vae": "models/vae/ae.safetensors",
        "controlnet": "models/controlnet/canny.safetensors",
        "text_encoder": "models/text_encoders/t5xxl_fp16.safetensors",
        "clip_vision": "models/clip_vision/clip_vision_h.safetensors",
        "embedding": "models/embeddings/easynegative.safetensors",
        "upscaler": "models/upscale_models/RealESRGAN_x4plus.safetensors",
        "diffusers": f"models/diffusers/{PIPE}",
        "hypernetwork": "models/hypernetworks/anime_hn.safetensors",
        "vae_approx": "models/vae_approx/taesdxl_decoder.safetensors",
        "t2i_adapter": "models/t2i_adapter/t2iadapter_canny_sd15v2.safetensors",
        "ip_adapter": "models/ipadapter/ip-adapter_sdxl.safetensors",
        "motion_module": "models/animatediff_models/mm_sd_v15_v2.safetensors",
    },
    "a1111": {
        "checkpoint": "models/Stable-diffusion/juggernautXL.safetensors",
        "lora": "models/Lora/detail.safetensors", "vae": "models/VAE/ae.safetensors",
        "controlnet": "models/ControlNet/canny.safetensors",
        "embedding": "embeddings/easynegative.safetensors",                 # at the install root
        "upscaler": "models/RealESRGAN/RealESRGAN_x4plus.safetensors",      # by architecture
        "hypernetwork": "models/hypernetworks/anime_hn.safetensors",
        "vae_approx": "models/VAE-approx/taesdxl_decoder.safetensors",
        "t2i_adapter": "models/ControlNet/t2iadapter_canny_sd15v2.safetensors",
        "ip_adapter": "models/ControlNet/ip-adapter_sdxl.safetensors",
    },
    "forge": {
        "checkpoint": "models/Stable-diffusion/juggernautXL.safetensors",
        "diffusion_model": "models/Stable-diffusion/flux1-dev-Q4_0.gguf",   # Forge lists unets as checkpoints
        "lora": "models/Lora/detail.safetensors", "vae": "models/VAE/ae.safetensors",
        "controlnet": "models/ControlNet/canny.safetensors",
        "text_encoder": "models/text_encoder/t5xxl_fp16.safetensors",
        "embedding": "embeddings/easynegative.safetensors",
        "upscaler": "models/RealESRGAN/RealESRGAN_x4plus.safetensors",      # folder made: not there yet
        "diffusers": f"models/diffusers/{PIPE}",
        "hypernetwork": "models/hypernetworks/anime_hn.safetensors",
        "vae_approx": "models/VAE-approx/taesdxl_decoder.safetensors",
        "t2i_adapter": "models/ControlNet/t2iadapter_canny_sd15v2.safetensors",
        "ip_adapter": "models/ControlNet/ip-adapter_sdxl.safetensors",
    },
    "sdnext": {
        "checkpoint": "models/Stable-diffusion/juggernautXL.safetensors",
        "diffusion_model": "models/UNET/flux1-dev-Q4_0.gguf",
        "lora": "models/Lora/detail.safetensors", "vae": "models/VAE/ae.safetensors",
        "controlnet": "models/control/canny.safetensors",
        "text_encoder": "models/Text-encoder/t5xxl_fp16.safetensors",
        "clip_vision": "models/CLIP/clip_vision_h.safetensors",
        "embedding": "models/embeddings/easynegative.safetensors",          # under models/, unlike A1111
        "upscaler": "models/RealESRGAN/RealESRGAN_x4plus.safetensors",
        "diffusers": f"models/Diffusers/{PIPE}",
        "hypernetwork": "models/hypernetworks/anime_hn.safetensors",
        "vae_approx": "models/VAE-approx/taesdxl_decoder.safetensors",
        "t2i_adapter": "models/control/t2iadapter_canny_sd15v2.safetensors",
        "motion_module": "models/motion/mm_sd_v15_v2.safetensors",
    },
    "swarmui": {
        "checkpoint": "Models/Stable-Diffusion/juggernautXL.safetensors",
        "diffusion_model": "Models/diffusion_models/flux1-dev-Q4_0.gguf",
        "lora": "Models/Lora/detail.safetensors", "vae": "Models/VAE/ae.safetensors",
        "controlnet": "Models/controlnet/canny.safetensors",
        "text_encoder": "Models/text_encoders/t5xxl_fp16.safetensors",
        "clip_vision": "Models/clip_vision/clip_vision_h.safetensors",
        "embedding": "Models/Embeddings/easynegative.safetensors",
        "upscaler": "Models/upscale_models/RealESRGAN_x4plus.safetensors",
        "hypernetwork": "Models/hypernetworks/anime_hn.safetensors",
        "t2i_adapter": "Models/controlnet/t2iadapter_canny_sd15v2.safetensors",
        "ip_adapter": "Models/ipadapter/ip-adapter_sdxl.safetensors",
    },
    "fooocus": {
        "checkpoint": "models/checkpoints/juggernautXL.safetensors",
        "lora": "models/loras/detail.safetensors", "vae": "models/vae/ae.safetensors",
        "controlnet": "models/controlnet/canny.safetensors",
        "clip_vision": "models/clip_vision/clip_vision_h.safetensors",
        "embedding": "models/embeddings/easynegative.safetensors",
        "upscaler": "models/upscale_models/RealESRGAN_x4plus.safetensors",
        "vae_approx": "models/vae_approx/taesdxl_decoder.safetensors",
        "ip_adapter": "models/controlnet/ip-adapter_sdxl.safetensors",
    },
    "textgen": {"llm": f"user_data/models/{LLM}", "mmproj": f"user_data/mmproj/{MMPROJ}"},
    "lmstudio": {"llm": f"bartowski/Llama-3.2-1B-Instruct-GGUF/{LLM}",
                 "mmproj": f"bartowski/Llama-3.2-1B-Instruct-GGUF/{MMPROJ}"},   # beside its model
    "llamacpp": {"llm": LLM},
    "folders": {"checkpoint": "Stable-diffusion/juggernautXL.safetensors", "lora": "Lora/detail.safetensors",
                "llm": f"llm/{LLM}"},
}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_every_type_lands_in_the_apps_folder_for_it(kind: str, tmp_path: Path) -> None:
    from .conftest import make_install
    install = make_install(tmp_path / "apps" / kind, kind)
    with Shelf(shelf_config(tmp_path, (app_config(kind, install),)), writer=True) as shelf:
        ids = import_every_type(shelf, tmp_path)
        results = shelf.linker().sync_all()
        assert {r.status for r in results} == {ApplyStatus.CREATED}, [r for r in results if r.detail]
        rows = shelf.registry.all()
        by_model = {}
        for r in rows:
            by_model.setdefault(r.model_id, []).append(r.target)
        for model_type, model_id in ids.items():
            want = EXPECTED[kind].get(model_type)
            got = by_model.get(model_id, [])
            if want is None:
                assert got == [], f"{kind}: a {model_type} should go nowhere, went to {got}"
                continue
            assert want in got, f"{kind}: {model_type} went to {got}, not {want}"
            link = install / want
            assert link.is_symlink() and not os.path.isabs(os.readlink(link))   # one filesystem: relative
            model = shelf.index.get(model_id)
            library_file = shelf.library.root / model.path / Path(want).name
            if model_type == "diffusers":
                library_file = shelf.library.root / model.path / "unet" / "diffusion_pytorch_model.safetensors"
            assert os.path.realpath(link) == os.path.realpath(library_file)
            assert digest(link) == digest(library_file)                          # the library's bytes
        assert {r.kind for r in rows} == {LinkKind.RELATIVE}
        assert {r.method for r in rows} == {PlacementMethod.LINK}
        # the app's own folders stay real folders, never links
        for folder in LAYOUTS[kind][1]:
            assert (install / folder).is_dir() and not (install / folder).is_symlink()
        # idempotent: a second full sync makes nothing and keeps one row per entry
        again = shelf.linker().sync_all()
        assert {r.status for r in again} == {ApplyStatus.PRESENT}
        assert len(shelf.registry.all()) == len(rows)


def test_one_library_into_every_kind_at_once(every_kind: dict[str, Path], tmp_path: Path) -> None:
    apps = tuple(app_config(kind, root) for kind, root in every_kind.items())
    with Shelf(shelf_config(tmp_path, apps), writer=True) as shelf:
        import_every_type(shelf, tmp_path)
        results = shelf.linker().sync_all()
        assert {r.status for r in results} == {ApplyStatus.CREATED}
        made = {(Path(r.install).name, r.target) for r in results}
        for kind, expected in EXPECTED.items():
            assert {t for k, t in made if k == kind} >= set(expected.values())


@pytest.mark.parametrize("kind", ["a1111", "lmstudio", "textgen"])
def test_a_users_own_file_is_never_replaced(kind: str, tmp_path: Path) -> None:
    from .conftest import make_install
    install = make_install(tmp_path / "apps" / kind, kind)
    target_type = {"a1111": "lora", "lmstudio": "llm", "textgen": "llm"}[kind]
    mine = install / EXPECTED[kind][target_type]
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.write_bytes(b"the user's own file")
    with Shelf(shelf_config(tmp_path, (app_config(kind, install),)), writer=True) as shelf:
        import_every_type(shelf, tmp_path)
        results = shelf.linker().sync_all()
        clash = [r for r in results if r.status is ApplyStatus.CLASH]
        assert [r.target for r in clash] == [EXPECTED[kind][target_type]]
        assert "left alone" in clash[0].detail
        assert mine.read_bytes() == b"the user's own file" and not mine.is_symlink()
        assert shelf.registry.get(str(install), EXPECTED[kind][target_type]) is None
