"""Linked-table cell suppression: the attacker's linear program and secondary suppression.

This module knows nothing about surveys. It works on a :class:`Model`: a set of *cells* (a count
``n`` and, for cells of a measured variable, the sum ``s`` of its values, which a published
``n`` and mean give away) and *relations*, linear identities between cells that hold in the
data and that an attacker can know (a total is the sum of its parts; the same linked
respondents are counted at both ends of a paired comparison). :mod:`evaluation.disclosure.plan`
declares the cells and relations of everything the package publishes.

A cell is *primary* when ``0 < n < min_n``. A hidden cell is a variable to the attacker; every
other cell is a published constant. For a hidden cell, the attacker's best bounds are the
optimum of a linear program (the *audit*; Fischetti & Salazar-González 1999, the LP relaxation
that statistical offices use, e.g. tau-argus):

    maximise / minimise  x_c   subject to   A_hidden x = -A_published v,   x >= 0,
                                             lo * n_j <= s_j <= hi * n_j   (value bounds)

A primary cell is *protected* when the attacker cannot prove it is below the threshold
(``upper bound of n >= min_n``) and cannot pin its sum (``upper - lower > 0`` for ``s``).

Secondary suppression (:func:`secondary_suppression`) is the greedy audit-driven heuristic of
Cox (1980) and tau-argus' "hypercube"-like methods: while some primary cell is exposed, hide,
for each exposed cell, the published cell of smallest ``n`` that shares a relation with it (or
with its hidden neighbours), then audit the exposed cells again. Hiding a cell only removes a
constraint, so a protected cell stays protected and only exposed cells are audited again.
The audit is solved per connected component of hidden cells with HiGHS (``highspy``), one
model per component whose objective changes from program to program.

References
----------
Cox, L. H. (1980). Suppression methodology and statistical disclosure control. JASA 75, 377-385.
Fischetti, M., & Salazar-González, J. J. (1999). Models and algorithms for the 2-dimensional
cell suppression problem in statistical disclosure control. Math. Programming 84, 283-312.
Hundepool, A. et al. (2012). Statistical Disclosure Control, ch. 4. Wiley.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import highspy
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

log = logging.getLogger(__name__)

TOLERANCE = 1e-6
DECIMALS = 6  # the optimal points, rounded to TOLERANCE
AUDIT_COLUMNS = ["cell", "n_low", "n_high", "s_low", "s_high", "protected"]


@dataclass
class Model:
    """Cells and the linear relations between them.

    ``cells``: index = cell id (str); columns ``n`` (count), ``s`` (sum of values; NaN for a
    count-only cell), ``lo``/``hi`` (bounds of one value, for ``s``; NaN for counts), ``shown``
    (the cell is displayed by some published table; an unshown cell is always hidden),
    ``cost`` (what hiding it loses; the greedy hides the cheapest).
    ``relations``: one row per term, ``rel`` (id), ``cell``, ``coef`` and ``kind``: ``"ns"``
    (holds for counts and sums) or ``"n"`` (counts only). ``sum(coef * cell) = 0``.
    """

    cells: pd.DataFrame
    relations: pd.DataFrame

    @classmethod
    def build(cls, cells: pd.DataFrame, terms: list[tuple[int, str, float, str]]) -> Model:
        relations = pd.DataFrame(terms, columns=["rel", "cell", "coef", "kind"])
        cells = cells.copy()
        for col, default in (("s", np.nan), ("lo", np.nan), ("hi", np.nan), ("shown", True)):
            if col not in cells:
                cells[col] = default
        if "cost" not in cells:
            cells["cost"] = cells["n"]
        unknown = set(relations["cell"]) - set(cells.index)
        if unknown:
            raise ValueError(f"relations name unknown cells: {sorted(unknown)[:5]}")
        return cls(cells, relations)

    @cached_property
    def terms(self) -> tuple[np.ndarray, np.ndarray, int]:
        """For each relation term, the position of its cell in ``cells`` and of its relation
        among the relations (sorted by id); and the number of relations. Computed once:
        every audit of the greedy reads them."""
        index = pd.Series(np.arange(len(self.cells)), index=self.cells.index)
        cell_pos = index.reindex(self.relations["cell"]).to_numpy()
        rel_ids, rel_pos = np.unique(self.relations["rel"].to_numpy(), return_inverse=True)
        return cell_pos, rel_pos, len(rel_ids)

    def primary(self, min_n: int) -> pd.Series:
        n = self.cells["n"]
        return (n > 0) & (n < min_n)


class _Audit:
    """The attacker's linear programs for one hidden set (see the module docstring)."""

    def __init__(self, model: Model, hidden: np.ndarray, min_n: float = math.inf) -> None:
        self.model = model
        self.min_n = min_n
        cells = model.cells
        self.hidden = hidden
        rel = model.relations
        self.cell_pos, self.rel_pos, self.n_rels = model.terms
        self.coef = rel["coef"].to_numpy(dtype=float)
        self.kind_s = rel["kind"].eq("ns").to_numpy()
        self.n = cells["n"].to_numpy(dtype=float)
        self.s = cells["s"].to_numpy(dtype=float)
        self.lo = cells["lo"].to_numpy(dtype=float)
        self.hi = cells["hi"].to_numpy(dtype=float)
        self.has_s = ~np.isnan(self.s)
        # Components of hidden cells that share a relation.
        n_cells = len(cells)
        h = hidden[self.cell_pos]
        graph = sparse.coo_matrix(
            (np.ones(h.sum()), (self.cell_pos[h], n_cells + self.rel_pos[h])),
            shape=(n_cells + self.n_rels, n_cells + self.n_rels),
        )
        _, labels = connected_components(graph, directed=False)
        self.component = labels[:n_cells]
        self.members: dict[int, np.ndarray] = {}

    def _members(self, comp: int) -> np.ndarray:
        if comp not in self.members:
            self.members[comp] = np.flatnonzero(self.hidden & (self.component == comp))
        return self.members[comp]

    def _system(self, comp: int, with_s: bool) -> _System:
        """One component's program: variables (n of each member, then s of members with
        sums), the relations as equalities (counts) or rounding bands (sums), and the value
        bounds."""
        members = self._members(comp)
        k = len(members)
        s_members = members[self.has_s[members]] if with_s else members[:0]
        width = k + len(s_members)
        column = np.full(len(self.n), -1)
        column[members] = np.arange(k)
        s_column = np.full(len(self.n), -1)
        s_column[s_members] = np.arange(k, width)
        # the terms of every relation with a member
        is_member = np.zeros(len(self.n), dtype=bool)
        is_member[members] = True
        touched = np.zeros(self.n_rels, dtype=bool)
        touched[self.rel_pos[is_member[self.cell_pos]]] = True
        terms = touched[self.rel_pos]
        # Counts are whole numbers: exact equalities. Sums are floating-point totals added up
        # in different orders, so each of their relations holds to within a rounding band.
        # every relation holds for counts; only those of kind "ns" for sums
        a_eq, b_eq, _ = self._relations(np.flatnonzero(terms), column, self.n, width)
        if len(s_members):
            sel = np.flatnonzero(terms & self.kind_s)
            a_s, b_s, magnitude = self._relations(sel, s_column, self.s, width)
        else:
            a_s, b_s, magnitude = sparse.csr_matrix((0, width)), np.zeros(0), np.zeros(0)
        band = 1e-9 * (1.0 + magnitude)
        # lo * n - s <= 0 and s - hi * n <= 0
        ub_rows, ub_cols, ub_vals = [], [], []
        for i, c in enumerate(s_members.tolist()):
            if np.isfinite(self.lo[c]):
                ub_rows += [2 * i, 2 * i]
                ub_cols += [column[c], s_column[c]]
                ub_vals += [self.lo[c], -1.0]
            if np.isfinite(self.hi[c]):
                ub_rows += [2 * i + 1, 2 * i + 1]
                ub_cols += [s_column[c], column[c]]
                ub_vals += [1.0, -self.hi[c]]
        value_bounds = sparse.coo_matrix(
            (ub_vals, (ub_rows, ub_cols)), shape=(2 * len(s_members), width)
        ).tocsr()
        scale = max([1.0, *magnitude.tolist()])
        a_ub = sparse.vstack([value_bounds, a_s, -a_s]).tocsr()
        b_ub = np.concatenate([np.full(2 * len(s_members), 1e-9 * scale), b_s + band, -b_s + band])
        pos = dict(zip(members.tolist(), range(k), strict=True))
        s_pos = dict(zip(s_members.tolist(), range(k, width), strict=True))
        lower = np.concatenate([np.zeros(k), np.full(len(s_members), -np.inf)])
        return _System(pos, s_pos, _Program(a_eq, b_eq, a_ub, b_ub, lower))

    def _relations(
        self, sel: np.ndarray, column: np.ndarray, value: np.ndarray, width: int
    ) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
        """The relations of the terms ``sel`` over the variables ``column`` (cell -> column;
        -1: none): a matrix with one row per relation (in the order of its first term), the
        right-hand side (minus the published cells' part) and that part's magnitude. A
        relation that names a published cell without a value, or a hidden cell without a
        variable (a cell without a sum, in the relation of sums), is left out: it has no
        value to put in."""
        cells, coef = self.cell_pos[sel], self.coef[sel]
        _, first, row = np.unique(self.rel_pos[sel], return_index=True, return_inverse=True)
        rank = np.empty(len(first), dtype=int)
        rank[np.argsort(first, kind="stable")] = np.arange(len(first))
        row = rank[row]
        hidden = self.hidden[cells]
        shown = ~hidden
        part = coef[shown] * value[cells[shown]]
        rhs, magnitude = np.zeros(len(first)), np.zeros(len(first))
        np.add.at(rhs, row[shown], -part)  # in the terms' order, as a running sum
        np.add.at(magnitude, row[shown], np.abs(part))
        var = column[cells]
        rhs[row[hidden & (var < 0)]] = np.nan
        keep = ~np.isnan(rhs)
        new_row = np.cumsum(keep) - 1
        entry = hidden & (var >= 0) & keep[row]
        matrix = sparse.coo_matrix(
            (coef[entry], (new_row[row[entry]], var[entry])), shape=(int(keep.sum()), width)
        ).tocsr()
        return matrix, rhs[keep], magnitude[keep]

    def _optimum(self, system, var: int, sense: float, *, solution: bool = False):
        """The optimum of one variable; with ``solution``, also the optimal point (None when
        the program is unbounded)."""
        c = np.zeros(system.program.width)
        c[var] = -sense  # the program minimises
        x = system.program.minimise(c)
        if x is None:  # unbounded
            return (math.inf * sense, None) if solution else math.inf * sense
        return (float(x[var]), x) if solution else float(x[var])

    def n_high(
        self, cells: np.ndarray, moves: dict[int, dict[int, float]] | None = None
    ) -> dict[int, float]:
        """The attacker's upper bound of ``n`` for each cell (counts only: the greedy's test),
        or, where the optimum for another cell already reaches ``min_n`` for this one, that
        value: a count the attacker cannot rule out, which is all protection needs.
        ``moves`` receives, for each cell with a finite bound, the change of every hidden
        count from the truth to the optimal point (a feasible direction; see
        :meth:`full_move`)."""
        out: dict[int, float] = {}
        systems: dict[int, tuple] = {}
        wanted = set(cells.tolist())
        by_comp: dict[int, list[int]] = {}
        for c in cells.tolist():
            by_comp.setdefault(int(self.component[c]), []).append(c)
        for comp, group in by_comp.items():
            if len(group) < 3:
                continue
            # One program raising all of them at once often shows most reach min_n.
            systems[comp] = self._system(comp, with_s=False)
            pos = systems[comp].pos
            x = self._joint_point(systems[comp], [pos[c] for c in group])
            if x is not None:
                self._certify(x, pos, wanted, out, moves)
        for c in cells:
            if c in out:
                continue
            comp = self.component[c]
            if comp not in systems:
                systems[comp] = self._system(comp, with_s=False)
            pos = systems[comp].pos
            out[c], x = self._optimum(systems[comp], pos[c], +1.0, solution=True)
            if x is None:
                continue
            move = self._certify(x, pos, wanted, out, moves)
            if moves is not None:
                moves[c] = move
        return out

    def _certify(self, x, pos, wanted, out, moves) -> dict[int, float]:
        """Cells that reach ``min_n`` at the feasible point ``x``: their upper bound is at
        least their value there, so no program of their own is needed. Returns the move."""
        d = {j: float(x[i] - self.n[j]) for j, i in pos.items()}
        move = {j: v for j, v in d.items() if abs(v) > TOLERANCE}
        for j, i in pos.items():
            if j in wanted and j not in out and x[i] >= self.min_n - TOLERANCE:
                out[j] = float(x[i])
                if moves is not None:
                    moves[j] = move
        return move

    def _joint_point(self, system, variables: list[int]):
        """The optimal point of raising the sum of ``variables`` (None if unbounded)."""
        c = np.zeros(system.program.width)
        c[variables] = -1.0
        return system.program.minimise(c)

    def full_move(self, c: int, move: dict[int, float] | None) -> bool:
        """Whether the count point that ``move`` reaches (a feasible point of the counts-only
        program, ``n + d``) is feasible with the sums too, and changes the sum of ``c``.

        Every hidden sum moves by ``m * d_j`` with one value ``m`` for all of them, so every
        relation keeps holding (they hold for counts and sums alike); ``m`` must keep each
        moved cell's sum inside its scale at its new count, ``lo * (n + d) <= s + m d <=
        hi * (n + d)``. Then the count of ``c`` at that point is one the attacker cannot rule
        out, with the sums as well, and ``s_c`` takes two values. A cell without sums needs no
        check."""
        if not self.has_s[c]:
            return True
        if not move or not move.get(c):
            return False
        m_lo, m_hi = -math.inf, math.inf
        for j, d in move.items():
            if not self.has_s[j]:
                continue
            lo, hi, n, s = self.lo[j], self.hi[j], self.n[j], self.s[j]
            slack = TOLERANCE * max(1.0, abs(s))
            low, high = lo * (n + d) - s - slack, hi * (n + d) - s + slack  # low <= m d <= high
            if d > 0:
                m_lo, m_hi = max(m_lo, low / d), min(m_hi, high / d)
            else:
                m_lo, m_hi = max(m_lo, high / d), min(m_hi, low / d)
            if m_lo > m_hi:
                return False
        return not (m_lo == 0 and m_hi == 0)

    def n_high_with_sums(self, cells: list[int]) -> dict[int, float]:
        """The attacker's upper bound of ``n`` for each cell from the program with counts and
        sums (one program per cell; a component's system is built once)."""
        out: dict[int, float] = {}
        by_comp: dict[int, list[int]] = {}
        for c in cells:
            by_comp.setdefault(int(self.component[c]), []).append(c)
        for comp, group in by_comp.items():
            system = self._system(comp, with_s=True)
            pos = system.pos

            if len(group) > 1:
                self._reach(self._joint_point(system, [pos[c] for c in group]), group, pos, out)
            for c in group:
                if c in out:
                    continue
                out[c], x = self._optimum(system, pos[c], +1.0, solution=True)
                self._reach(x, group, pos, out)
        return out

    def _reach(self, x: np.ndarray | None, group: list[int], pos: dict, out: dict) -> None:
        """At a feasible point ``x`` of the program with sums, every cell of ``group`` at or
        above ``min_n`` has an upper bound of at least that: it needs no program of its own."""
        if x is None:
            return
        for j in group:
            if j not in out and x[pos[j]] >= self.min_n - TOLERANCE:
                out[j] = float(x[pos[j]])

    def _witness(self, x: np.ndarray | None, group: list[int], s_pos: dict, moved: set) -> None:
        """Cells of ``group`` whose sum at the feasible point ``x`` differs from the true sum
        (also feasible): their sums are not pinned."""
        if x is None:
            return
        for j in group:
            if j in s_pos and j not in moved:
                truth, seen = self.s[j], x[s_pos[j]]
                if abs(seen - truth) > 2 * TOLERANCE * max(1.0, abs(truth), abs(seen)):
                    moved.add(j)

    def bounds(
        self,
        cells: np.ndarray,
        full: bool = False,
        known: dict[str, float] | None = None,
        moves: dict[int, dict[int, float]] | None = None,
    ) -> pd.DataFrame:
        """Upper bound of ``n`` (and lower, when ``full``) and both bounds of ``s`` for each
        cell (counts and sums jointly). ``known``: upper bounds of ``n`` already proven;
        ``moves``: their optimal points (a known bound is used only where that point is
        feasible with the sums too, :meth:`full_move`; the sum's bounds are then left empty: it
        is not pinned)."""
        records = []
        systems: dict[int, tuple] = {}
        known = known or {}
        moves = moves or {}
        ids = self.model.cells.index
        if not full:
            return self._bounds_of_known(cells, known, moves)
        for c in cells:
            comp = self.component[c]
            if comp not in systems:
                systems[comp] = self._system(comp, with_s=True)
            system = systems[comp]
            pos, s_pos = system.pos, system.s_pos
            n_low = self._optimum(system, pos[c], -1.0)
            n_high = self._optimum(system, pos[c], +1.0)
            if c in s_pos:
                s_low = self._optimum(system, s_pos[c], -1.0)
                s_high = self._optimum(system, s_pos[c], +1.0)
            else:
                s_low = s_high = math.nan
            records.append((ids[c], n_low, n_high, s_low, s_high))
        return pd.DataFrame(records, columns=AUDIT_COLUMNS[:-1])

    def _bounds_of_known(
        self, cells: np.ndarray, known: dict[str, float], moves: dict[int, dict[int, float]]
    ) -> pd.DataFrame:
        """:meth:`bounds` without ``full``: the upper bound of ``n`` from ``known`` where
        there is one (else its program), and whether the sum is pinned.

        The true values are a feasible point of the program with sums, so any feasible point
        where a cell's sum differs from its true sum proves that the sum is not pinned; its
        bounds are then left empty. Such points come from a few programs per component (the
        sums of all its cells raised together, then lowered together, then the optima of the
        cells not yet witnessed), not two programs per cell."""
        ids = self.model.cells.index
        records: dict[int, tuple] = {}
        pending: dict[int, list[int]] = {}
        for c in cells.tolist():
            if ids[c] in known and self.full_move(c, moves.get(c)):
                records[c] = (ids[c], math.nan, known[ids[c]], math.nan, math.nan)
            else:
                pending.setdefault(int(self.component[c]), []).append(c)
        for comp, group in pending.items():
            system = self._system(comp, with_s=True)
            pos, s_pos = system.pos, system.s_pos
            moved: set[int] = set()

            with_sums = [s_pos[j] for j in group if j in s_pos]
            if len(with_sums) > 1:
                for sense in (1.0, -1.0):
                    c_vec = np.zeros(system.program.width)
                    c_vec[with_sums] = -sense
                    self._witness(system.program.minimise(c_vec), group, s_pos, moved)
            for c in group:
                n_high = known.get(ids[c])
                if n_high is None:
                    n_high = self._optimum(system, pos[c], +1.0)
                s_low = s_high = math.nan
                if c in s_pos and c not in moved:
                    s_low, x = self._optimum(system, s_pos[c], -1.0, solution=True)
                    self._witness(x, group, s_pos, moved)
                    s_high, x = self._optimum(system, s_pos[c], +1.0, solution=True)
                    self._witness(x, group, s_pos, moved)
                records[c] = (ids[c], math.nan, n_high, s_low, s_high)
        return pd.DataFrame([records[c] for c in cells.tolist()], columns=AUDIT_COLUMNS[:-1])


class _QuietHighs(highspy.Highs):
    """HiGHS without its log: ``Highs()`` prints its banner to the process's standard output
    when it sets its callbacks, before any option can be set (ERGO-Code/HiGHS#1702)."""

    def enableCallbacks(self) -> None:
        self.setOptionValue("output_flag", False)
        super().enableCallbacks()


#: Set to stop the solves of a plan being made in a thread of a run that is stopping: the next
#: solve raises :class:`SolvesStopped` instead of starting. The run waits for that before it
#: exits: an interpreter that exits while HiGHS solves in another thread aborts (HiGHS's own
#: threads are still joinable when its globals are destroyed), instead of exiting 143.
STOP_SOLVES = threading.Event()


class SolvesStopped(Exception):
    """The plan's solves were stopped (:data:`STOP_SOLVES`): the run is stopping."""


class _Program:
    """One component's linear program in HiGHS, loaded once: each solve changes only the
    objective, and HiGHS starts from the last optimal basis, usually a few pivots away.
    (``scipy.optimize.linprog`` checked and loaded the whole program again for every
    objective, which took most of the audit's time.)

    The true cell values always satisfy the program, so "infeasible" is a numerical artefact:
    HiGHS' presolve can declare the programs with sums (tight rounding bands of width 1e-9
    next to coefficients of a few hundred) infeasible. Such a program is solved again from
    scratch without presolve, which finds the optimum; a second "infeasible" is an error."""

    def __init__(
        self,
        a_eq: sparse.csr_matrix,
        b_eq: np.ndarray,
        a_ub: sparse.csr_matrix,
        b_ub: np.ndarray,
        lower: np.ndarray,
    ) -> None:
        self.width = len(lower)
        inf = highspy.kHighsInf
        matrix = sparse.vstack([a_eq, a_ub]).tocsc()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.width, matrix.shape[0]
        lp.col_cost_ = np.zeros(self.width)
        lp.col_lower_ = np.where(np.isfinite(lower), lower, -inf)
        lp.col_upper_ = np.full(self.width, inf)
        lp.row_lower_ = np.concatenate([b_eq, np.full(len(b_ub), -inf)])
        lp.row_upper_ = np.concatenate([b_eq, b_ub])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        self._lp = lp
        self._columns = np.arange(self.width, dtype=np.int32)
        self._highs: highspy.Highs | None = None

    def _solver(self, presolve: bool = True) -> highspy.Highs:
        highs = _QuietHighs()
        if not presolve:
            highs.setOptionValue("presolve", "off")
        highs.passModel(self._lp)
        return highs

    def minimise(self, c: np.ndarray) -> np.ndarray | None:
        """The optimal point of minimising ``c @ x``; None when the program is unbounded."""
        if STOP_SOLVES.is_set():
            raise SolvesStopped("the run is stopping")
        if self._highs is None:
            self._highs = self._solver()
        self._highs.changeColsCost(self.width, self._columns, np.asarray(c, dtype=float))
        self._highs.run()
        status = self._highs.getModelStatus()
        if status in (_INFEASIBLE, _UNBOUNDED_OR_INFEASIBLE):
            self._highs = self._solver(presolve=False)
            self._highs.changeColsCost(self.width, self._columns, np.asarray(c, dtype=float))
            self._highs.run()
            status = self._highs.getModelStatus()
        if status == _UNBOUNDED:
            return None
        if status != _OPTIMAL:  # the published values contradict the relations
            message = self._highs.modelStatusToString(status)
            raise RuntimeError(f"disclosure audit: linear program failed ({message})")
        # From the last basis, HiGHS' point holds the program to its feasibility tolerance
        # (1e-7): rounded to the audit's TOLERANCE, a bound of 9 is 9, not 9.0000000135.
        return np.round(np.array(self._highs.getSolution().col_value), DECIMALS) + 0.0


_OPTIMAL = highspy.HighsModelStatus.kOptimal
_UNBOUNDED = highspy.HighsModelStatus.kUnbounded
_INFEASIBLE = highspy.HighsModelStatus.kInfeasible
_UNBOUNDED_OR_INFEASIBLE = highspy.HighsModelStatus.kUnboundedOrInfeasible


@dataclass
class _System:
    """One component's program and where each member's variables are in it: ``pos`` (cell
    -> its count's column), ``s_pos`` (cell -> its sum's column)."""

    pos: dict[int, int]
    s_pos: dict[int, int]
    program: _Program


def _protected(frame: pd.DataFrame, min_n: int) -> pd.Series:
    n_ok = frame["n_high"] >= min_n - TOLERANCE
    s_width = frame["s_high"] - frame["s_low"]
    scale = np.maximum(1.0, frame["s_high"].abs().where(np.isfinite(frame["s_high"]), 1.0))
    s_ok = frame["s_low"].isna() | np.isinf(s_width) | (s_width > TOLERANCE * scale)
    return n_ok & s_ok


def audit(
    model: Model,
    hidden: pd.Series,
    min_n: int,
    *,
    full: bool = False,
    n_high: dict[str, float] | None = None,
    moves: dict[int, dict[int, float]] | None = None,
) -> pd.DataFrame:
    """The attacker's bounds for every primary cell given the ``hidden`` cells (a bool Series
    on the model's cells): ``cell, n_low, n_high, s_low, s_high, protected``. ``n_high``: upper
    bounds already proven for this hidden set (from :func:`secondary_suppression`); those
    programs are not solved again."""
    h = hidden.reindex(model.cells.index, fill_value=False).to_numpy(dtype=bool).copy()
    h |= ~model.cells["shown"].to_numpy(dtype=bool)
    primary = np.flatnonzero(model.primary(min_n).to_numpy() & h)
    shown_primary = np.flatnonzero(model.primary(min_n).to_numpy() & ~h)
    frame = (
        _Audit(model, h).bounds(primary, full, n_high or {}, moves)
        if len(primary)
        else pd.DataFrame(columns=AUDIT_COLUMNS[:-1])
    )
    frame = frame.astype({c: "float64" for c in AUDIT_COLUMNS[1:-1]})
    frame["protected"] = _protected(frame, min_n)
    if len(shown_primary):  # a primary cell left published is not protected at all
        cells = model.cells.iloc[shown_primary]
        published = pd.DataFrame(
            {
                "cell": cells.index,
                "n_low": cells["n"],
                "n_high": cells["n"],
                "s_low": cells["s"],
                "s_high": cells["s"],
                "protected": False,
            }
        )
        frame = pd.concat([frame, published], ignore_index=True)
    return frame.sort_values("cell", kind="mergesort").reset_index(drop=True)


def secondary_suppression(
    model: Model,
    min_n: int,
    *,
    max_rounds: int = 1000,
    n_high: dict[str, float] | None = None,
    moves: dict[int, dict[int, float]] | None = None,
) -> pd.Series:
    """Hide every primary cell and enough other cells that no primary cell is exposed to the
    attacker's counts LP (see the module docstring). Returns ``hidden`` (bool Series on the
    model's cells; unshown cells are hidden too). Cells with the same ``together`` value are
    shown in one row, so they are hidden together. ``n_high``, when given, receives each
    primary cell's last audited upper bound (still valid at the end: hiding more only widens
    it), so :func:`audit` need not solve those programs again."""
    cells = model.cells
    primary = model.primary(min_n).to_numpy()
    hidden = (primary | ~cells["shown"].astype(bool).to_numpy()).copy()
    together = _together(cells)
    _spread(hidden, together)
    cell_pos, rel_pos, _ = model.terms
    by_cell: dict[int, list[int]] = {}
    by_rel: dict[int, list[int]] = {}
    for c, r in zip(cell_pos.tolist(), rel_pos.tolist(), strict=True):
        by_cell.setdefault(c, []).append(r)
        by_rel.setdefault(r, []).append(c)
    n = cells["n"].to_numpy(dtype=float)
    cost = cells["cost"].to_numpy(dtype=float)
    order = np.argsort(np.argsort(cells.index.to_numpy(dtype=str)))  # ties by cell id
    # How many of each relation's terms are hidden, kept as cells are hidden (_hide)
    in_rel = np.bincount(rel_pos[hidden[cell_pos]], minlength=model.terms[2]).tolist()
    todo = np.flatnonzero(primary)
    stalled, last_exposed, widen = 0, len(todo) + 1, False
    for step in range(max_rounds):
        if not len(todo):
            break
        log.debug("secondary suppression: round %d, %d cell(s) to audit", step, len(todo))
        # A hidden cell alone among published cells in a relation is pinned: no LP needed.
        lonely = {c for c in todo.tolist() if any(in_rel[r] == 1 for r in by_cell.get(c, ()))}
        attack = _Audit(model, hidden, min_n)
        rest = np.array([c for c in todo.tolist() if c not in lonely], dtype=int)
        step_moves: dict[int, dict[int, float]] = {}
        high = attack.n_high(rest, step_moves) if len(rest) else {}
        # The counts-only program's point must hold with the sums as well; where it does not,
        # the attacker's bound is the program with sums.
        recheck = [
            c
            for c, value in high.items()
            if value >= min_n - TOLERANCE and not attack.full_move(c, step_moves.get(c))
        ]
        high.update(attack.n_high_with_sums(recheck))
        for c in recheck:
            step_moves.pop(c, None)
        if moves is not None:
            moves.update(step_moves)
        if n_high is not None:
            n_high.update({cells.index[c]: v for c, v in high.items()})
        exposed = sorted(lonely | {c for c in rest.tolist() if high[c] < min_n - TOLERANCE})
        if not exposed:
            break
        # Stalled (single picks stopped cutting the exposed cells by a tenth: what pins them is
        # a chain of relations, e.g. lower bounds of siblings through linked rounds, that no
        # one nearby cell breaks): hide the whole nearest layer of published cells.
        stalled = stalled + 1 if len(exposed) > 0.9 * last_exposed else 0
        last_exposed = len(exposed)
        widen = widen or stalled >= 5  # once single picks stall, whole layers to the end
        added = False
        touched: set[int] = set()  # components changed this round: audit them again first
        for c in exposed:
            if c in lonely and not any(in_rel[r] == 1 for r in by_cell.get(c, ())):
                continue  # an earlier pick of this round already gave it company
            # In a component already changed this round, only a relation that still pins a
            # hidden cell is broken: that pick is needed whatever the audit says next, while
            # the fallback (any nearest relation) waits for the next audit, so a large
            # component is not over-suppressed and is not fixed one cell per round either.
            crowded = attack.component[c] in touched and len(exposed) > 50
            touched.add(attack.component[c])
            picks = _candidate(
                c, hidden, in_rel, by_cell, by_rel, n, cost, order, fallback=not crowded,
                widen=widen,
            )  # fmt: skip
            for pick in picks:
                _hide(hidden, in_rel, by_cell, together.get(pick, [pick]))
                added = True
        if not added:
            log.warning(
                "secondary suppression: %d primary cell(s) cannot be protected", len(exposed)
            )
            break
        todo = np.array(exposed, dtype=int)
    return pd.Series(hidden, index=cells.index)


def _together(cells: pd.DataFrame) -> dict[int, np.ndarray]:
    if "together" not in cells:
        return {}
    groups = pd.Series(np.arange(len(cells))).groupby(cells["together"].to_numpy(), dropna=True)
    out: dict[int, np.ndarray] = {}
    for _, members in groups:
        arr = members.to_numpy()
        if len(arr) > 1:
            for m in arr:
                out[int(m)] = arr
    return out


def _spread(hidden: np.ndarray, together: dict[int, np.ndarray]) -> None:
    """Hide the row partners of hidden cells."""
    for c, members in together.items():
        if hidden[c]:
            hidden[members] = True


def _hide(hidden: np.ndarray, in_rel: list[int], by_cell: dict, cells: Iterable[int]) -> None:
    """Hide ``cells`` (a pick and its row partners), counting them in their relations."""
    for x in cells:
        if not hidden[x]:
            hidden[x] = True
            for r in by_cell.get(int(x), ()):
                in_rel[r] += 1


def _candidate(
    c, hidden, in_rel, by_cell, by_rel, n, cost, order, *, fallback=True, widen=False
) -> list[int]:
    """Published, non-empty cells to hide for exposed cell ``c``. Walking out from ``c``
    through the relations of hidden cells, the nearest relation that pins a hidden cell (it is
    the relation's only hidden member) is broken first; failing that, the nearest relation at
    all. Within it, the cheapest cell. An empty cell is no candidate: its row does not exist,
    so the attacker knows it. ``fallback=False``: pinning relations only. ``widen``: every
    published cell of the nearest layer of relations that has any (when single picks stall)."""
    seen_cells, seen_rels = {c}, set()
    layer = [c]
    layers: list[list[int]] = []
    while layer:
        rels = sorted({r for x in layer for r in by_cell.get(x, ())} - seen_rels)
        seen_rels |= set(rels)
        layers.append(rels)
        layer = sorted({x for r in rels for x in by_rel[r] if hidden[x]} - seen_cells)
        seen_cells |= set(layer)
    modes = (False,) if widen else (True, False) if fallback else (True,)
    for pinning_only in modes:
        for rels in layers:
            if pinning_only:
                rels = [r for r in rels if in_rel[r] == 1]
            pool = np.array(sorted({x for r in rels for x in by_rel[r]}), dtype=int)
            if len(pool):
                pool = pool[~hidden[pool] & (n[pool] > 0)]
            if len(pool):
                if widen:
                    return pool.tolist()
                return [int(pool[np.lexsort((order[pool], cost[pool]))[0]])]
    return []


def summary(model: Model, hidden: pd.Series, audit_frame: pd.DataFrame, min_n: int) -> dict:
    """Counts for the manifest: primary, secondary, exposed, smallest protection widths."""
    shown = model.cells["shown"].astype(bool)
    primary = model.primary(min_n)
    # How far above the true count the attacker's upper bound reaches, at the least.
    width = audit_frame["n_high"] - audit_frame["cell"].map(model.cells["n"])
    return {
        "cells": len(model.cells),
        "relations": int(model.relations["rel"].nunique()),
        "primary": int(primary.sum()),
        "secondary": int((hidden & shown & ~primary).sum()),
        "exposed": int((~audit_frame["protected"]).sum()),
        "smallest_protection": float(width.min()) if len(width) else None,
        "smallest_n_high": float(audit_frame["n_high"].min()) if len(audit_frame) else None,
    }


def solve(model: Model, min_n: int) -> tuple[pd.Series, pd.DataFrame, dict]:
    """Secondary suppression, then the audit of its result: ``(hidden, audit, summary)``."""
    n_high: dict[str, float] = {}
    moves: dict[int, dict[int, float]] = {}
    hidden = secondary_suppression(model, min_n, n_high=n_high, moves=moves)
    result = audit(model, hidden, min_n, n_high=n_high, moves=moves)
    return hidden, result, summary(model, hidden, result, min_n)
