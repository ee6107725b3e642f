# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Data-quality trend
#
# Every quality gate's validation over time (the gate outcomes mart): how many passed per day and
# zone, and the expectations that failed, at the mart's published version.

# %%
# The kernel's inline backend turns each plt.show() into a PNG output (the page embeds it);
# forcing "Agg" here would leave the notebook without charts.
import matplotlib.pyplot as plt
from IPython.display import display

from notebooks.lakedata import published, where

print(where())
outcomes = published("gold.quality.fct_gate_outcomes")
passed = int(outcomes["passed"].sum())
print(f"{len(outcomes)} validations, {passed} passed, {len(outcomes) - passed} failed")

# %% [markdown]
# ## Validations per day and zone

# %%
per_day = outcomes.groupby(["validated_on", "zone"]).size().unstack(fill_value=0).sort_index()
fig, ax = plt.subplots(figsize=(8, 4))
per_day.plot.bar(ax=ax, stacked=True)
ax.set_ylabel("validations")
ax.set_title("Gate validations per day")
plt.show()

# %% [markdown]
# ## Pass rate and failed expectations per zone

# %%
by_zone = outcomes.groupby("zone").agg(
    validations=("passed", "size"),
    pass_rate=("passed", "mean"),
    failed_expectations=("failed_expectations", "sum"),
)
fig, ax = plt.subplots(figsize=(6, 3))
by_zone["pass_rate"].plot.bar(ax=ax, ylim=(0, 1))
ax.set_ylabel("share of validations passed")
ax.set_title("Pass rate per zone")
plt.show()
display(by_zone)
