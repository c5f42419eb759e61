"""MarginalSynthesizer: the marginal path end to end, in the scikit-learn manner.

``fit`` learns what the schema lacks with DP (a declared ``schema_share`` of the
budget), encodes the table, runs the selection-and-measurement mechanism (MST or
AIM, ``method``), fits a Private-PGM model to the noisy marginals, and trains the
refiner that places numeric values inside their bins; ``sample`` draws records from
the model and decodes them. Every read of the data spends through one
:class:`~dpquilt.privacy.Accountant`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..graphical.collector import full_collections_deferred
from ..graphical.extension_sizes import SizeReuse
from ..graphical.model import EstimationOptions, estimate
from ..graphical.sampling import sample_codes
from ..graphical.sizes import extension_sizes_mb, model_size_mb
from ..marginals.aim import REFIT_STEPS, aim
from ..marginals.compression import Compression
from ..marginals.measurement import Measurement, cell_measurement
from ..marginals.mst import mst, pair_sigma
from ..marginals.code_counts import CodeCounts, DatasetCounts, PartitionCounts
from ..marginals.oracle import LocalOracle, MarginalOracle
from ..marginals.workload import DEFAULT_MAX_CELLS, Workload
from ..privacy.accountant import Accountant, Expenditure
from ..refiners import Layout, make_backend
from ..refiners.histogram import partition_cell_tally
from ..rows.engine import InMemoryRows
from ..rows.inputs import as_row_engine
from ..schema import Schema
from ..schema.codec import decode, encode
from ..schema.column_types import conform_frame
from ..schema.learning import SCHEMA_DELTA_SHARE, learn_missing_facts
from ..schema.releases import CountRelease
from .base import NotFittedError, Synthesizer, sample_size

__all__ = ["MarginalSynthesizer", "NotFittedError", "SCHEMA_DELTA_SHARE", "schema_measurements"]

log = logging.getLogger(__name__)

METHODS = ("mst", "aim")

#: ``refiner_share`` for a refiner that spends and names no ``default_share`` of its own.
REFINER_SHARE = 0.15


class MarginalSynthesizer(Synthesizer):
    """Differentially private synthetic data from noisy marginals and Private-PGM.

    Parameters
    ----------
    epsilon : float, default 1.0
        Privacy budget, ``> 0``.
    delta : float, default 1e-9
        Privacy budget, in ``(0, 1)``.
    method : {"mst", "aim"}
        Selection mechanism: MST (McKenna, Miklau and Sheldon 2021) or AIM
        (McKenna, Mullins, Sheldon and Miklau 2022).
    schema : Schema or dict, optional
        Public facts about columns (see :meth:`Schema.from_public`). Facts left out
        are learned with DP from ``schema_share`` of the budget.
    schema_share : float, default 0.1
        Share of the zCDP budget spent learning missing schema facts; unused when
        the schema is complete.
    workload : Workload or list of column tuples, optional
        AIM only: the marginals to be accurate on (default: every 3-way marginal
        with at most 10,000 cells).
    rounds : int, optional
        AIM only: rounds (default 16 x columns).
    max_model_size : float, default 80
        AIM only: cap on the junction tree's size in MB.
    estimation : EstimationOptions, optional
        Private-PGM options (iterations, precision).
    refiner : {"histogram", "uniform", "ddpm"} or Backend, default "histogram"
        How a numeric bin decodes to a value: by a fine noisy histogram of the
        column inside its bins (:class:`~dpquilt.refiners.HistogramRefiner`),
        uniformly inside the bin (spends nothing), or by a conditional DDPM of the
        value's position in its bin trained with DP-SGD (needs ``dpquilt[diffusion]``).
        Values stay inside the sampled bins in every case, so the model's marginals
        are kept exactly.
    refiner_share : float, optional
        With a refiner that spends: the share of the zCDP budget left after schema
        learning that the marginals give up to it. Default: 0.05 for ``"histogram"``
        (one histogram per numeric column) and 0.15 for ``"ddpm"``, whose DP-SGD noise
        multiplier is solved for from whatever the marginals leave (RDP composition).
        On ggplot2::diamonds at epsilon 1 and 3, 0.15 improved both the Wasserstein and
        the correlation fidelity over uniform decoding at equal total budget; 0.3 tied
        on correlations at epsilon 1 (``benchmarks/diffusion_quality.py``).
    refiner_settings : DDPMSettings, optional
        Network and DP-SGD settings of the ``"ddpm"`` refiner.
    device : str, default "auto"
        PyTorch device of the refiner (``"auto"``: CUDA when present).
    random_state : None, int or numpy.random.Generator
        ``None`` draws all noise from OpenDP's secure source (for release). A seed
        makes the run reproducible and the report says "seeded: not for release".
    verbose : bool, default True
        Progress bars and log messages.

    Attributes
    ----------
    schema_ : Schema
        The complete schema used to encode the data.
    model_ : GraphicalModel
        The fitted Private-PGM model (over compressed codes).
    accountant_ : Accountant
        The ledger of this fit.
    curator_notes_ : tuple of str
        Diagnostics for the data curator (values clipped to the schema's bounds,
        values mapped to ``other``, values that did not parse, rows the public schema
        could not encode). Not differentially private: never publish them with the
        release. They are also logged, and never appear in :meth:`privacy_report`.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"a": ["x", "y"] * 50, "b": [1, 2, 3, 4] * 25})
    >>> syn = MarginalSynthesizer(epsilon=1.0, random_state=0, verbose=False,
    ...     schema={"a": {"categories": ["x", "y"]}, "b": {"kind": "integer", "lower": 1, "upper": 4}})
    >>> out = syn.fit(df).sample(10, random_state=0)
    >>> list(out.columns), out["b"].dtype.name
    (['a', 'b'], 'int64')
    """

    _fitted_attribute = "model_"

    def __init__(
        self,
        epsilon: float = 1.0,
        delta: float = 1e-9,
        method: str = "mst",
        schema: Schema | Mapping[str, Any] | None = None,
        schema_share: float = 0.1,
        workload: Workload | Sequence[Sequence[str]] | None = None,
        rounds: int | None = None,
        max_model_size: float = 80.0,
        estimation: EstimationOptions | None = None,
        refiner: Any = "histogram",
        refiner_share: float | None = None,
        refiner_settings: Any = None,
        device: str = "auto",
        random_state: int | np.random.Generator | None = None,
        verbose: bool = True,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.method = method
        self.schema = schema
        self.schema_share = schema_share
        self.workload = workload
        self.rounds = rounds
        self.max_model_size = max_model_size
        self.estimation = estimation
        self.refiner = refiner
        self.refiner_share = refiner_share
        self.refiner_settings = refiner_settings
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def check_params(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method={self.method!r} is not available; choose one of {list(METHODS)}")
        share = self.schema_share
        if not (isinstance(share, (int, float)) and 0 <= share < 1):
            raise ValueError(
                f"schema_share={share!r} leaves nothing for measuring marginals; pass a share in [0, 1), e.g. 0.1"
            )
        share = self.refiner_share
        if share is not None and not (isinstance(share, (int, float)) and 0 < share < 1):
            raise ValueError(
                f"refiner_share={share!r} must lie in (0, 1): the marginals and the refiner both need budget; e.g. 0.3"
            )

    def fit(self, df: pd.DataFrame | Any) -> MarginalSynthesizer:
        """Learn a DP model of ``df`` (one row per individual).

        Parameters
        ----------
        df : DataFrame, Dask DataFrame, or path of Parquet files
            The private table. A ``dask.dataframe.DataFrame`` or a path, directory or
            glob of Parquet files (``"data/*.parquet"``, read lazily) is never
            gathered here: every read is a tally of each partition on the Dask
            workers (the current ``distributed.Client``, else local threads), summed
            before the noise is added, so the ledger, the measurements and the samples
            equal those of the same rows in one DataFrame with the same seed
            (:mod:`dpquilt.rows`). Partitioned rows take the ``"histogram"`` or
            ``"uniform"`` refiner.

        Returns
        -------
        self
        """
        rows = as_row_engine(df)
        if hasattr(rows, "with_progress"):  # a bar over the partitions of each pass on a Dask cluster
            rows = rows.with_progress(self.verbose)
        meta, randomness, accountant = self._fit_prologue(rows.meta())
        noise = randomness.noise
        backend = make_backend(self.refiner, self.refiner_settings)
        in_memory = isinstance(rows, InMemoryRows)
        if not in_memory and backend.name not in ("histogram", "uniform"):
            raise ValueError(f"refiner={backend.name!r} trains on rows in memory; with partitioned rows pass "
                             f"refiner='histogram' (the default) or 'uniform', or fit a pandas DataFrame")
        share = self.refiner_share if self.refiner_share is not None else getattr(backend, "default_share", REFINER_SHARE)
        spends = backend.name != "uniform"
        # the noise MST will give each 2-way marginal, expected before the schema is learned: it sizes learned bins
        expected_rho = accountant.remaining_rho() * (1.0 - self.schema_share) * ((1.0 - share) if spends else 1.0)
        schema, releases = learn_missing_facts(rows, self.schema, self.schema_share, accountant, noise,
                                               measurement_sigma=pair_sigma(expected_rho, meta.shape[1]))
        if in_memory:
            encoded = encode(rows.frame, schema)  # conforms each column to its kind (notes of values that did not parse)
            counts: CodeCounts = DatasetCounts(encoded.data)
            curator_notes = encoded.notes
            self._log_curator_notes(curator_notes)
        else:
            counts = PartitionCounts(rows, schema)
        layout = Layout.of(schema)
        if spends and not layout.learned:
            if backend.name != "histogram":  # the default refiner has nothing to do on categorical tables: no news
                log.warning("refiner=%r has no numeric column with room inside its bins: it is skipped", backend.name)
            backend, spends = make_backend("uniform"), False
        rho = accountant.remaining_rho() * ((1.0 - share) if spends else 1.0)
        oracle = LocalOracle(counts, noise)
        prior = schema_measurements(releases, schema)
        self._fit_measurements(oracle, schema, accountant, list(meta.columns), rho=rho, prior=prior)  # refiner_: uniform
        if not in_memory:
            counts.release()  # the codes kept on the workers (PartitionCounts), no longer needed
            parts = getattr(rows, "n_partitions", 1)
            curator_notes = tuple(f"{note} (in {k} of {parts} partitions)" for note, k in counts.curator_notes.items())
            self._log_curator_notes(curator_notes)
        self.curator_notes_ = curator_notes
        if spends:
            if self.verbose:
                log.info("fitting the %s refiner", backend.name)
            if in_memory:  # the encoded rows' values in their kinds, for their places inside the bins
                frame = conform_frame(rows.frame[encoded.kept], schema)[0]
                rows_of_refiner = {"codes": layout.codes_of(encoded.data), "targets": layout.targets_of(frame, schema)}
            else:
                rows_of_refiner = {"codes": None, "targets": None, "tally_cells": partition_cell_tally(rows, schema, layout)}
            self.refiner_ = backend.fit(
                layout,
                accountant=accountant,
                device=self.device,
                public_rows=max(float(self.model_.total), 1.0),
                randomness=randomness,
                progress=self.verbose,
                noise=noise,
                bin_shares={c: self._bin_shares(c) for c in layout.learned},
                **rows_of_refiner,
            )
            self.notes_ = self.notes_ + tuple(getattr(self.refiner_, "notes_", ()))  # public lines (optional)
        return self

    @staticmethod
    def _log_curator_notes(notes: Sequence[str]) -> None:
        for note in notes:
            log.warning("curator note (not DP, not for release): %s", note)

    def fit_oracle(
        self,
        oracle: MarginalOracle,
        schema: Schema,
        columns: Sequence[str] | None = None,
        notes: tuple[str, ...] = (),
        earlier: Sequence[Expenditure] = (),
        prior: Sequence[Measurement] = (),
        reserve: float = 0.0,
    ) -> MarginalSynthesizer:
        """Fit from an oracle instead of a DataFrame (the federated path), with this estimator's budget.

        Runs the selection mechanism on ``oracle`` with a fresh accountant of ``epsilon``
        and ``delta`` and fits the model. ``schema`` must be complete (public): nothing is
        learned from rows here.

        Parameters
        ----------
        oracle : MarginalOracle
            Answers noisy marginals and private selections, e.g.
            :class:`~dpquilt.federation.federated_oracle.FederatedOracle`.
        schema : Schema
            The public schema the oracle's codes follow.
        columns : sequence of str, optional
            Column order of sampled frames (default: the schema's).
        notes : tuple of str
            Lines added to the privacy report: public facts only (how the sums were
            formed), never diagnostics of the rows.
        earlier : sequence of Expenditure
            What this fit already spent elsewhere (e.g. silos learning the schema): charged
            to the fit's accountant first, so the report and the remaining budget hold it.
        prior : sequence of Measurement
            Noisy 1-way cells released before (e.g. while learning the schema), merged into
            the 1-way measurements (post-processing).
        reserve : float
            Share of the budget left (after ``earlier``) kept back for a step after the
            model (e.g. within-bin histograms measured elsewhere): it stays in ``accountant_``.

        Returns
        -------
        self

        Examples
        --------
        >>> from dpquilt.marginals.oracle import LocalOracle
        >>> from dpquilt.privacy import SeededNoise
        >>> from dpquilt.schema import Schema
        >>> from dpquilt.schema.dataset import Dataset
        >>> rng = np.random.default_rng(0)
        >>> codes = Dataset({"a": rng.integers(0, 2, 500), "b": rng.integers(0, 3, 500)}, {"a": 2, "b": 3})
        >>> syn = MarginalSynthesizer(epsilon=1.0, random_state=0, verbose=False)
        >>> syn = syn.fit_oracle(LocalOracle(codes, SeededNoise(rng)), Schema.from_domain({"a": 2, "b": 3}))
        >>> syn.privacy_report().epsilon_spent <= 1.0, len(syn.sample(5))
        (True, 5)
        """
        self.check_params()
        if not schema.complete:
            raise ValueError("fit_oracle needs a complete public Schema (nothing is learned from rows here); "
                             "build one with Schema.from_public(...) or Schema.from_domain(...)")
        accountant = self._own_accountant()
        for expenditure in earlier:
            accountant.spend(expenditure)
        if not 0.0 <= reserve < 1.0:
            raise ValueError(f"reserve must lie in [0, 1), got {reserve!r}")
        rho = accountant.remaining_rho() * (1.0 - reserve)
        return self._fit_measurements(oracle, schema, accountant, list(columns or schema.names), notes, rho=rho, prior=prior)

    def _fit_measurements(
        self,
        oracle: MarginalOracle,
        schema: Schema,
        accountant: Accountant,
        columns: Sequence[str],
        notes: tuple[str, ...] = (),
        rho: float | None = None,
        prior: Sequence[Measurement] = (),
    ) -> MarginalSynthesizer:
        """Measure through ``oracle`` with ``rho`` (default: what is left of ``accountant``) and fit
        the model. ``prior``: noisy 1-way cells released before (the schema's counts,
        :func:`schema_measurements`), merged into the 1-way measurements."""
        options = self.estimation or EstimationOptions()
        rho = accountant.remaining_rho() if rho is None else rho
        if self.method == "mst":
            result = mst(oracle, rho, accountant, prior)
            compression, measurements, warm = result.compression, result.measurements, None
        else:
            compression = Compression.identity(dict(oracle.domain))
            measurements, warm = self._run_aim(oracle, rho, accountant, options, prior)
        self.model_ = estimate(compression.domain, measurements, options, progress=self.verbose, warm_start=warm)
        self.compression_ = compression
        self.schema_ = schema
        self.accountant_ = accountant
        self.notes_ = tuple(notes)
        self.curator_notes_ = ()
        self.columns_ = list(columns)
        self.refiner_ = make_backend("uniform").fit(Layout.of(schema))
        return self

    def _bin_shares(self, column: str) -> np.ndarray:
        """The model's share of rows in each code of ``column`` (post-processing)."""
        marginal = self.compression_.spread(column, self.model_.project([column]))
        return marginal / max(float(marginal.sum()), 1e-12)

    def _run_aim(self, oracle, rho, accountant, options, prior):
        domain = dict(oracle.domain)
        if self.workload is None:
            workload = Workload.all_kway(list(domain), 3, domain, max_cells=DEFAULT_MAX_CELLS)
        elif isinstance(self.workload, Workload):
            workload = self.workload
        else:
            workload = Workload.of(self.workload)
        # round fits only score candidates and decide annealing: in single precision where it runs
        single = options.round_single_precision and options.runs_single_precision
        round_options = dataclasses.replace(
            options, iters=options.round_iters, noise_level_stop=options.round_noise_level_stop, single_precision=single
        )
        # a refit continues a stopped round fit in steps of a tenth of round_iters, at most ten, each
        # ending sooner once AIM's watch sees the answer move by more than the noise
        refit_step = dataclasses.replace(
            options, iters=-(-options.round_iters // REFIT_STEPS), noise_level_stop=None, single_precision=single
        )
        stopped_early = options.round_noise_level_stop is not None  # else round fits already run in full
        size_reuse = SizeReuse()  # candidate sizes shared by the rounds' graphs
        with full_collections_deferred():  # the rounds' plans are freed by refcounting: see graphical.collector
            result = aim(
                oracle,
                rho,
                accountant,
                workload,
                fit_model=lambda ms, warm: estimate(domain, ms, round_options, warm_start=warm),
                model_size=lambda cliques: model_size_mb(domain, cliques),
                model_sizes=lambda cliques: extension_sizes_mb(domain, cliques, size_reuse),
                rounds=self.rounds,
                max_model_size=self.max_model_size,
                progress=self.verbose,
                refit_model=(
                    (lambda ms, warm, watch: estimate(domain, ms, refit_step, warm_start=warm, watch=watch))
                    if stopped_early else None
                ),
                max_refits=REFIT_STEPS,
                prior=prior,
            )
        # the rounds' projection workers (processes that shared the candidates' projections) end with the rounds
        result.model.plans.close()
        self.rounds_ = result.rounds
        return result.measurements, result.model

    def sample(self, n_samples: int | None = None, random_state: int | np.random.Generator | None = None) -> pd.DataFrame:
        """Draw synthetic records (post-processing: spends no budget).

        Parameters
        ----------
        n_samples : int, optional
            Number of rows; defaults to the model's noisy record count.
        random_state : None, int or Generator
            Randomness for sampling only.

        Returns
        -------
        DataFrame
            The fitted table's columns, in order, with their dtypes.
        """
        self._check_fitted("sample")
        n_samples = sample_size(n_samples, self.model_.total)
        rng = np.random.default_rng(random_state)
        codes = sample_codes(self.model_, n_samples, rng)
        codes = self.compression_.undo(codes, rng)
        positions = self.refiner_.sample(codes, rng)
        return decode(codes, self.schema_, rng, positions)[self.columns_]



def schema_measurements(releases: Sequence[CountRelease], schema: Schema) -> list[Measurement]:
    """The counts schema learning released, as measurements of the 1-way cells they count.

    Post-processing of DP outputs (:mod:`dpquilt.schema.releases`): the marginal path
    merges them into its own 1-way measurements, so each count is paid for once.

    Examples
    --------
    >>> from dpquilt.schema.releases import CountRelease
    >>> schema = Schema.from_public({"c": {"categories": ["a", "b"], "other": True, "missing": False}})
    >>> (m,) = schema_measurements([CountRelease("c", {"b": 40}, 3.0, "categories of 'c'")], schema)
    >>> m.cols, m.noisy.tolist(), m.weights.tolist()
    (('c',), [0.0, 40.0, 0.0], [0.0, 1.0, 0.0])
    """
    out = []
    for release in releases:
        spec = schema[release.column]
        codes, counts = release.cells(spec)
        if codes.size:
            out.append(cell_measurement(release.column, spec.size, codes, counts, release.sigma))
    return out
