"""Settings of the material stage: :class:`MaterialConfig` and its :data:`PRESETS`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from relight.runtime.config import load_preset


@dataclass(frozen=True)
class MaterialConfig:
    """Settings of :func:`fit_material` (TOML-loadable; presets in :data:`PRESETS`)."""

    iterations: int = 2000
    """Optimization steps (all levels together)."""
    batch_views: int = 1
    """Training views rendered per step."""
    spp: int = 8
    """Samples per pixel of the primal render of each step."""
    spp_grad: int = 0
    """Samples per pixel of the adjoint (gradient) pass; 0 = ``spp``. Fewer makes a step cheaper
    (the adjoint pass re-traces every path) at the price of noisier gradients."""
    max_depth: int = 3
    """Path length limit; 3 = direct light + one indirect bounce."""
    tex_res: int = 256
    """Final albedo/roughness texture resolution (square); with ``texel_px`` the least one."""
    texel_px: float = 0.0
    """> 0: raise the texture resolution above ``tex_res`` (up to ``max_tex_res``) until the
    atlas' texels are at most this many pixels wide on the finest training images, at the
    surface's median camera distance (:func:`relight.material.uv.texture_side`). A fixed
    ``tex_res`` gives a large object (or a long, thin one: a knot's tube) texels as wide as a
    pixel, and a bilinear lookup then blurs every albedo edge over two pixels: the torus knot's
    GT mesh with GT materials on a 512² atlas (0.98 px texels) scored 26.6 dB albedo, on 1024²
    (0.49 px) 30.7 dB, while spot's smooth texture (0.56 px) scored 38.3 at 512²
    (results/README.md, session 27). 0 = ``tex_res`` exactly, the default: in the material
    stage on the reconstructed meshes 0.5 took the knot from 20.55 / 26.96 dB (albedo / relight)
    to 22.08 / 27.60 (1024²), but the blob from 27.71 / 27.80 to 27.01 / 27.56 (832²) and the vase
    from 24.52 / 28.13 to 24.28 / 27.96 (832²): smaller texels each see fewer samples, so smooth
    textures gain noise where edge-rich ones gain sharpness (and roughness MAE rose on all three)."""
    max_tex_res: int = 2048
    """Upper bound of the resolution ``texel_px`` may raise the textures to (memory: ~120 bytes
    a texel while fitting); a larger ``tex_res`` is kept as it is."""
    albedo_detail_res: int = 0
    """Side of a second albedo parameter (0 = off, else at least ``tex_res``): a finer residual
    added to the ``tex_res`` albedo bilinearly upsampled (:mod:`relight.material.albedo`), shrunk
    towards zero by ``albedo_detail_shrink``; roughness and metallic stay at ``tex_res``, and the
    albedo's priors (TV, palette) act on the sum. With ``texel_px`` it is this residual's side,
    not ``tex_res``, that is raised (from this value up). Measured with ``texel_px = 0.5`` on the
    suite's reconstructed meshes (albedo / relight dB, roughness MAE; results/README.md, session
    28): knot 21.81 / 27.65, 0.103 (the whole texture at 1024²: 22.08 / 27.60, 0.138; 512²:
    20.55 / 26.96, 0.106); blob 27.14 / 27.63, 0.082 (832²: 27.01 / 27.56, 0.093; 512²: 27.71 /
    27.80, 0.077); vase 24.10 / 28.07, 0.230 (24.28 / 27.96, 0.254; 24.52 / 28.13, 0.230): the
    edges of ``texel_px`` at nearly the roughness of the coarse texture, and smooth albedo still
    loses 0.4-0.6 dB. An option for edge-rich albedo, like ``texel_px``."""
    albedo_detail_shrink: float = 0.25
    """Soft threshold applied to ``albedo_detail`` after every step, as a share of that step's
    albedo learning rate (:func:`relight.material.albedo.shrink`, an L1 prior's proximal step): a
    residual texel whose gradient keeps its sign moves by up to ``lr`` a step and survives it, one
    driven by Monte Carlo noise moves by ~0.2 ``lr`` and stays at zero. 0.5 (measured while the priors
    still acted on the coarse texture only) left the residual all but empty (0.7 % of the knot's
    texels; 20.71 dB, as without one); 0 lets it hold noise on smooth albedo (blob 26.79 dB
    against 27.14 at 0.25)."""
    env_width: int = 64
    """Final envmap width (height = width / 2)."""
    image_res: int = 1024
    """Longest side (px) of the training images at the finest level, at most: a larger capture is
    area-downscaled by the smallest integer factor that fits (0 = always the capture's own
    resolution). Path tracing costs per pixel, and a texel of a ``tex_res`` texture is seen by
    a few pixels already at this size."""
    levels: int = 3
    """Coarse-to-fine levels; each halves the image, texture and envmap resolution of the next."""
    level_split: list[float] = field(default_factory=lambda: [0.4, 0.3, 0.3])
    """Share of the iterations spent at each level, coarse first (normalised; padded with its
    last value when shorter than ``levels``). Coarse levels are cheap: images are smaller."""
    lr_albedo: float = 0.05
    lr_roughness: float = 0.05
    lr_env: float = 0.2
    """Learning rate on log radiance (high: along the albedo-light valley the light's gradient is
    weak, and with 0.05 it was still moving when the run ended; 0.4 was measured to diverge in
    a longer run — results/README.md)."""
    lr_decay: float = 0.2
    """Final learning rate as a fraction of the initial one (exponential decay)."""
    init_albedo: float = 0.5
    init_roughness: float = 0.5
    init_env: float = 0.5
    """Initial uniform envmap radiance."""
    tv_albedo: float = 0.02
    """Weight of the albedo smoothness regularizer (suppresses Monte Carlo speckle and shading
    baked into albedo). Scale: TV-L1 weights ~50x smaller than TV-L2 ones act alike on 1/255 steps.
    ``fast`` uses 0.05: its 512² texels are each seen by ~1/4 pixel of a 256² view, and 0.02 left
    them speckled (spot: albedo 29.9 -> 30.7 dB)."""
    tv_roughness: float = 0.02
    tv_norm: str = "l1"
    """Smoothness penalty of albedo/roughness: ``l2`` (TV-L2, smooth) or ``l1`` (Charbonnier
    TV-L1, edge-preserving; penalizes low-frequency shading baked into albedo)."""
    shared_warmup: float = 0.1
    """Share of the iterations during which albedo and roughness are held spatially constant
    (their gradients averaged over texels), so that the envmap explains the shading first."""
    palette_albedo: float = 0.2
    """Weight of the reflectance-sparsity prior: albedo texels pulled (TV-L1-like constant force)
    to the nearest of ``palette_size`` k-means colours of the albedo in use, so that shading is
    explained by the light rather than baked into a spread of albedo values. Off before the end
    of ``shared_warmup``."""
    palette_size: int = 6
    """Number of palette colours (distinct materials expected; more = weaker prior)."""
    palette_until: float = 0.7
    """Share of the iterations after which the palette prior is switched off: it steers the
    light early; the textures then relax to the data under that light. The albedo's Adam
    moments restart there: sized by the prior's pull, they would otherwise keep the steps of
    weakly observed texels (spot's udder) small long after it is gone."""
    palette_keep_share: float = 0.05
    """At ``palette_until`` the albedo is measured (right after the ``refine_at`` re-solve there,
    when one falls on that step: the data's albedo under the fitted light): its
    :func:`relight.material.losses.palette_residual`, the share of its variance, away from its
    edges, that its palette leaves unexplained. Below this share the albedo is a few flat
    materials and the palette prior stays on to the end, where it keeps the Monte Carlo noise of
    the last level out of flat regions; from it on (a continuous albedo, which the prior would
    posterize) it ends at ``palette_until``. 0 = always end there. Held to the end on the GT
    meshes (results/README.md, session 37; measured share in brackets): spot 31.11 -> 32.32 dB
    albedo (0.006; flat regions 33.0 -> 37.3 dB), the knot's checker 26.57 -> 28.63 (0.034), but
    the blob's smooth noise albedo 32.03 -> 29.99 (0.086); 0.05 lies between the knot and the blob."""
    env_multiscale: int = 0
    """Add the envmap gradient's block means at 2, 4, ... 2**N texels to it before each step
    (:func:`relight.material.optim.multiscale_gradient`; 0 = off). For **glossy** objects, with
    ``env_width = 256``: on the vase's GT mesh (``results/levers.md``) albedo 24.94 -> 25.85 dB,
    relight 28.61 -> 29.63 dB, roughness MAE 0.229 -> 0.122 against the 64-wide default (a
    256-wide light without it collapses: 10.8 / 14.2 dB). Not a default: on diffuse spot the
    same settings lose 5.3 dB of albedo (the finer light absorbs shading)."""
    env_compact_width: int = 0
    """> 0: the light's width when the capture turns out to be lit by a *compact* source (a sun, a
    softbox); 0 = off. The levels before the last run as a pilot; at the last level's start the
    fitted light's :func:`relight.material.light.concentration` (its power share from the
    brightest 1 % of the sphere) is measured, and from ``env_compact_share`` on the fit starts
    again with a light this wide (at every level: a quarter of it at the coarsest of three), its
    gradient spread over block means up to twice the default texel (``env_multiscale`` of
    log2(this / ``env_width``) + 1, at least); otherwise the pilot's state goes on, as the
    default run. A fine light lets a sun's shadows and a glossy part's reflections be as sharp as
    the images show them, where a 64-wide texel spreads them over 5.6 degrees; under soft light a
    fine map only absorbs shading that belongs to the albedo (256 wide on spot's GT mesh: albedo
    31.0 -> 26.1 dB), so the data decide. Only switching the last level to the fine light was
    measured to buy nothing (vase, bunny): the albedo has taken the shading by then
    (results/README.md, session 36). Inactive (:attr:`compact_pilot`) with one level (no pilot),
    with a fixed light (``fit_envmap = false``: nothing to decide), with ``env_detail_width`` (the
    other way to a finer light) or when ``env_width`` is as wide."""
    env_compact_share: float = 0.33
    """The pilot light's concentration from which ``env_compact_width`` is used: midway (geometric
    mean) between the highest soft-lit pilot measured, 0.285 (the blob under ``city``), and the
    lowest sunlit one, 0.373 (the Stanford bunny under ``quarry_01``, outside the repository)."""
    env_step_floor: float = 0.0
    """Adam's per-texel step normalization of the envmap, floored at this multiple of the median
    texel's gradient RMS (:func:`relight.material.optim.floored_rms`; 0 = plain Adam): texels that
    few paths reach move in proportion to their gradient instead of at full speed. Measured
    (results/README.md, session 21): the Stanford bunny's GT mesh under a sunlit HDRI, the light
    started at the truth and fitted, 18.43 -> 26.46 dB albedo (plain Adam let the nadir texels,
    seen only by the underside, climb to 14083). Not a default: from the usual uniform start it
    changed nothing on the bunny (19.29 -> 19.16) and cost a little on spot's and the blob's GT
    meshes (31.40 -> 31.10, 32.01 -> 31.57 dB; vase 24.94 -> 24.91)."""
    env_detail_width: int = 0
    """Width of a second light parameter (0 = off), a finer log-radiance residual added to the
    ``env_width`` light bilinearly upsampled (:mod:`relight.material.light`): the coarse light
    keeps the default's parameter and Adam steps, the residual has its own (``lr_env_detail``) and
    a sparsity prior (``env_detail_l1``), so a sun can sit in a few fine texels. For captures
    **under a sunlit sky**: ``env_detail_width = 256`` on GT meshes (``results/levers.md``, rows
    ``s25_*``) took the Stanford bunny under ``quarry_01`` from 18.38 to 24.23 dB albedo (relight
    23.23 -> 28.23) and spot under the same sun from 22.28 to 25.01 (28.42 -> 29.60); under soft
    light it costs albedo (spot 31.03 / 31.18 -> 30.22 / 29.26 over two seeds, blob 31.96 -> 30.82, vase 25.04 -> 23.92) while
    relighting stays within 0.4 dB. Not a default for that reason (results/README.md, session 25)."""
    lr_env_detail: float = 0.05
    """Learning rate of ``env_detail`` (log radiance). Measured with the bunny and spot: 0.2
    diverges (spot 7.5 dB albedo); 0.02 is too slow for the sun to form (bunny 22.63 vs 24.23)."""
    env_detail_l1: float = 3e-3
    """Weight of the solid-angle-weighted L1 norm of ``env_detail`` (:func:`relight.material.losses.latlong_weights`,
    summing to 1): most of the light is the coarse map's, a residual only where the data insist.
    Its pull per texel (~1e-7 at 256 wide) is of the order of one view's gradient per texel
    (median 4e-8, 90th percentile 1e-6 on spot at the truth). 1e-3 and 1e-2 did worse on both the
    bunny and spot (23.81 / 29.16 and 22.15 / 28.76 dB albedo)."""
    tv_env: float = 0.0
    """Weight of TV-L2 on the log envmap (smooths brightness too; flattens a sun)."""
    tv_env_chroma: float = 0.0
    """Weight of TV-L2 on the envmap's log chromaticity (:func:`relight.material.losses.tv_chroma`):
    neighbouring directions of the light should have similar colour; brightness stays free."""
    white_balance: float = 0.0
    """Weight of the light white-balance prior (grey mean light); 0 leaves colour to the data."""
    metallic: bool = False
    """Also fit a metallic texture (off: dielectric). It has no learning rate or switch of its own:
    it follows ``lr_roughness`` and ``fit_roughness``, since both are parameters of the specular
    lobe in [0, 1], fitted from the same highlights at the same texel scale; separate settings were
    never measured to help, and two more knobs would only add ways to unbalance them."""
    fit_albedo: bool = True
    fit_roughness: bool = True
    fit_envmap: bool = True
    """Optimize the envmap (false: keep the initial one, e.g. a measured light probe)."""
    view_gains: str = "auto"
    """Per-view exposure and white balance (auto-exposure must not bake into albedo): ``off``;
    ``exposure`` (one factor per view); ``exposure_wb`` (one per view and colour channel);
    ``auto`` = ``exposure_wb`` for 8-bit photos, ``off`` for linear HDR captures. Each rendered
    view's factors move (in log, :data:`relight.material.problem.GAIN_RATE` per visit) to the
    least-squares ratio of its photo to its render inside the mask; their log-mean over the views
    is held at 0, since a global scale belongs to the light and the albedo."""
    loss: str = "relative_l2"
    """Image loss: ``relative_l2`` (unbiased under MC noise) or ``log_l1`` (robust, biased)."""
    min_roughness: float = 0.05
    average_last: float = 0.3
    """Output the running mean of the parameters over this final share of the iterations
    (Polyak averaging: it removes most of the Monte Carlo gradient noise left in the textures)."""
    seed: int = 0
    """Seed of view batches and path samples. CPU runs with ``threads = 1`` are bitwise
    reproducible; with more threads, gradient accumulation order varies (differences ~1e-7)."""
    threads: int = 0
    """CPU worker threads for Dr.Jit's LLVM backend (0 = all cores)."""
    checkpoint_every: int = 50
    """Write a checkpoint every N steps (0: never)."""
    refine_at: list[float] = field(default_factory=list)
    """Shares of the iterations at which the albedo is re-solved by one pass of the refinement
    below under the current light, at the current level's resolution (its Adam moments restart).
    Measured on spot with ``tv_env_chroma``: re-solves at the end of the warm-up and at both level
    switches cut the white material's RMS error 0.029 -> 0.023 (results/README.md); without the
    light prior they do not help, since under a biased light the data-driven colour is biased."""
    refine_passes: int = 0
    """Passes of multiplicative albedo refinement after the gradient steps, light and roughness
    fixed (:mod:`relight.material.refine`): each renders every training view once and rescales each texel
    by the least-squares ratio of observed to rendered radiance. It moves texels that are seen
    dimly or rarely (whose gradient steps stall under Monte Carlo noise) to the data. 0 = off."""
    refine_spp: int = 32
    """Samples per pixel of each view in a refinement pass (split between two independent renders)."""
    refine_blur: float = 1.0
    """Gaussian sigma (texels) of the ratio's numerator and denominator: the correction, not
    the albedo, is smoothed, so albedo edges stay sharp while per-texel noise averages out."""
    refine_damping: float = 0.05
    """Texels seen by few pixels stay nearer their value: the ratio's sums are both padded by
    this fraction of the median denominator."""
    refine_colour_sigma: float = 0.0
    """> 0: pool the ratio's sums only over neighbours of similar albedo (joint bilateral, this
    sigma in linear RGB), so the ``refine_blur`` neighbourhood can be wide without crossing edges."""

    def __post_init__(self):
        checks = [("iterations", self.iterations >= 1), ("batch_views", self.batch_views >= 1),
                  ("spp", 1 <= self.spp <= 4096), ("spp_grad", 0 <= self.spp_grad <= 4096),
                  ("max_depth", 2 <= self.max_depth <= 32),
                  ("tex_res", 4 <= self.tex_res <= 8192), ("env_width", 8 <= self.env_width <= 8192),
                  ("texel_px", 0 <= self.texel_px <= 64), ("max_tex_res", 4 <= self.max_tex_res <= 8192),
                  ("levels", 1 <= self.levels <= 6), ("image_res", self.image_res == 0 or self.image_res >= 16),
                  ("palette_size", 1 <= self.palette_size <= 64), ("palette_until", 0 <= self.palette_until <= 1),
                  ("palette_keep_share", 0 <= self.palette_keep_share <= 1),
                  ("lr_decay", 0 < self.lr_decay <= 1), ("env_step_floor", self.env_step_floor >= 0),
                  ("init_albedo", 0 <= self.init_albedo <= 1), ("init_env", self.init_env > 0),
                  ("min_roughness", 0 <= self.min_roughness <= self.init_roughness <= 1),
                  ("average_last", 0 <= self.average_last < 1), ("threads", self.threads >= 0),
                  ("refine_passes", 0 <= self.refine_passes <= 100), ("refine_spp", 2 <= self.refine_spp <= 4096),
                  ("refine_blur", 0 <= self.refine_blur <= 64), ("refine_damping", self.refine_damping >= 0),
                  ("refine_colour_sigma", self.refine_colour_sigma >= 0),
                  ("env_compact_width", 0 <= self.env_compact_width <= 8192),
                  ("env_compact_share", 0 < self.env_compact_share <= 1)]
        if self.tv_norm not in ("l1", "l2"):
            raise ValueError(f"tv_norm must be 'l1' or 'l2', got '{self.tv_norm}'")
        if not 0 <= self.shared_warmup < 1:
            raise ValueError(f"shared_warmup is out of range ({self.shared_warmup})")
        if self.view_gains not in ("auto", "off", "exposure", "exposure_wb"):
            raise ValueError(f"view_gains must be auto, off, exposure or exposure_wb, got '{self.view_gains}'")
        if self.albedo_detail_res and not self.tex_res <= self.albedo_detail_res <= 8192:
            raise ValueError(f"albedo_detail_res must be 0 or in [tex_res, 8192], got {self.albedo_detail_res}")
        if self.env_detail_width and not self.env_width < self.env_detail_width <= 8192:
            raise ValueError(f"env_detail_width must be 0 or in (env_width, 8192], got {self.env_detail_width}")
        if not 0 <= self.env_multiscale <= 8:
            raise ValueError(f"env_multiscale must be 0..8, got {self.env_multiscale}")
        if self.loss not in ("relative_l2", "log_l1"):
            raise ValueError(f"loss must be 'relative_l2' or 'log_l1', got '{self.loss}'")
        if any(not 0 <= x < 1 for x in self.refine_at):
            raise ValueError("refine_at needs shares in [0, 1)")
        if not self.level_split or min(self.level_split) <= 0:
            raise ValueError("level_split needs positive shares")
        for name, ok in checks:
            if not ok:
                raise ValueError(f"{name} is out of range ({getattr(self, name)})")
        for k in ("lr_albedo", "lr_roughness", "lr_env", "tv_albedo", "tv_roughness", "tv_env", "tv_env_chroma",
                  "white_balance", "palette_albedo", "lr_env_detail", "env_detail_l1", "albedo_detail_shrink"):
            if getattr(self, k) < 0:
                raise ValueError(f"{k} must be >= 0")

    @property
    def compact_pilot(self) -> bool:
        """Whether ``env_compact_width`` acts: set, wider than ``env_width``, with levels before the
        last to pilot on, the light fitted (``fit_envmap``) and no ``env_detail_width``."""
        return (self.env_width < self.env_compact_width and self.levels >= 2 and self.fit_envmap
                and not self.env_detail_width)

    @property
    def largest_tex_res(self) -> int:
        """The largest texture side this configuration may fit (with ``texel_px``: ``max_tex_res``,
        or the side it raises when that is larger, since a side is only ever raised)."""
        least = max(self.tex_res, self.albedo_detail_res)
        return max(least, self.max_tex_res) if self.texel_px > 0 else least

    def finest_factor(self, height: int, width: int) -> int:
        """Integer downscale of a ``height`` x ``width`` capture at the finest level (:attr:`image_res`)."""
        return max(1, math.ceil(max(height, width) / self.image_res)) if self.image_res else 1


PRESETS: dict[str, MaterialConfig] = {
    # env_compact_width: a 256-wide light where the pilot finds a sun or a softbox (results/README.md, session 36)
    "fast": MaterialConfig(spp_grad=4, image_res=512, tex_res=512, tv_albedo=0.05, tv_env_chroma=0.1, refine_at=[0.1, 0.4, 0.7],
                           env_compact_width=256),
    # quality (GPU, not measured there): the light as fast chooses it; its former fixed 256-wide light
    # without env_multiscale collapsed on the vase on CPU (10.8 dB albedo) and costs soft-lit objects
    "quality": MaterialConfig(iterations=3000, batch_views=4, spp=32, max_depth=5, tex_res=1024,
                              env_compact_width=256, levels=4, level_split=[0.25, 0.25, 0.25, 0.25],
                              tv_env_chroma=0.1, refine_at=[0.1, 0.25, 0.5, 0.75]),
}


def load_config(preset: str = "fast", toml: str | Path | None = None, **over) -> MaterialConfig:
    """A preset, updated by a TOML file's keys and then by keyword overrides (None ignored)."""
    return load_preset(MaterialConfig, PRESETS, preset, toml, **over)
