"""Token modules of the point-cloud and time-series towers: shapes, geometry by hand, gradients, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from languagebind.model.points import PointGroupEmbed, farthest_point_sample, group_points
from languagebind.model.series import SeriesPatchEmbed
from languagebind.processing.pointcloud import PointCloudConfig, farthest_point_order, load_point_cloud


def test_fps_matches_the_preprocessing_order_and_takes_its_prefix() -> None:
    cloud = np.random.default_rng(0).normal(size=(500, 3))
    numpy_order = farthest_point_order(cloud, 40, 0)
    torch_order = farthest_point_sample(torch.from_numpy(cloud)[None], 40)[0]
    assert torch_order.tolist() == numpy_order.tolist()
    # a preprocessed cloud is in FPS order, so the tower's centres are its first G points
    points = load_point_cloud(cloud, PointCloudConfig(num_points=128, min_points=16))[None]
    _, centres = group_points(points, 16, 8)
    assert torch.equal(centres[0], points[0, :16])


def test_groups_are_the_nearest_neighbours_relative_to_their_centre() -> None:
    line = torch.tensor([[[float(i), 0.0, 0.0, i * 10.0] for i in range(10)]])  # x = 0..9, one extra channel
    groups, centres = group_points(line, 2, 3)
    assert centres[0].tolist() == [[0.0, 0.0, 0.0], [9.0, 0.0, 0.0]]
    assert groups[0, 0, :, 0].tolist() == [0.0, 1.0, 2.0]  # 0, 1, 2 relative to 0
    assert groups[0, 1, :, 0].tolist() == [0.0, -1.0, -2.0]  # 9, 8, 7 relative to 9
    assert groups[0, 1, :, 3].tolist() == [90.0, 80.0, 70.0]  # other channels kept as they are


def test_point_tokens_shapes_gradients_and_batch_independence() -> None:
    torch.manual_seed(0)
    module = PointGroupEmbed(width=32, num_groups=16, group_size=8, in_channels=6)
    points = torch.randn(3, 200, 6)
    tokens, frames = module(points)
    assert tokens.shape == (3, 17, 32) and frames == 1
    tokens.square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())
    with torch.no_grad():
        alone = module(points[1:2])[0]
        again = module(points)[0]
    assert torch.allclose(alone[0], tokens[1].detach(), atol=1e-6)
    assert torch.equal(again, tokens.detach())
    with pytest.raises(ValueError, match="point tensor"):
        module(torch.randn(2, 200, 3))
    with pytest.raises(ValueError, match="group_size"):
        PointGroupEmbed(width=32, num_groups=4, group_size=300)(torch.randn(1, 200, 3))
    with pytest.raises(ValueError, match="centres"):
        PointGroupEmbed(width=32, num_groups=300, group_size=4)(torch.randn(1, 200, 3))


def test_point_tokens_in_bfloat16() -> None:
    module = PointGroupEmbed(width=16, num_groups=8, group_size=4).to(torch.bfloat16)
    tokens, _ = module(torch.randn(2, 64, 3))
    assert tokens.dtype == torch.bfloat16 and tokens.shape == (2, 9, 16)


def test_series_patches_by_hand() -> None:
    module = SeriesPatchEmbed(width=8, channels=2, patch_size=3, length=6)
    signal = torch.arange(12.0).view(1, 2, 6)  # channel 0: 0..5, channel 1: 6..11
    assert module.patches(signal)[0].tolist() == [[0, 1, 2, 6, 7, 8], [3, 4, 5, 9, 10, 11]]
    tokens, frames = module(signal)
    assert tokens.shape == (1, 3, 8) and frames == 1
    expected = module.proj(module.patches(signal)) + module.position_embedding[1:]
    assert torch.allclose(tokens[0, 1:], expected[0])
    assert torch.allclose(tokens[0, 0], module.class_embedding + module.position_embedding[0])


def test_series_tokens_imagebind_geometry_and_gradients() -> None:
    module = SeriesPatchEmbed(width=32)  # 6 channels, 8-step patches, 2000 steps: 250 tokens + CLS
    signal = torch.randn(2, 6, 2000, requires_grad=True)
    tokens, _ = module(signal)
    assert tokens.shape == (2, 251, 32)
    tokens.sum().backward()
    assert signal.grad is not None and all(p.grad is not None for p in module.parameters())
    with pytest.raises(ValueError, match=r"\(B, 6, 2000\)"):
        module(torch.randn(2, 6, 1999))
    with pytest.raises(ValueError, match="multiple"):
        SeriesPatchEmbed(width=8, patch_size=7, length=2000)
