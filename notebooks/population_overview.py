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
# # Population overview
#
# The province's living population by age band and sex (the population pyramid mart) and births
# and deaths per month (the vital events mart), at their published versions. Run it with
# `govlake notebooks` (writes the executed HTML into the lake) or open it in Jupyter
# (jupytext pairs this file with a notebook).

# %%
# The kernel's inline backend turns each plt.show() into a PNG output (the page embeds it);
# forcing "Agg" here would leave the notebook without charts.
import matplotlib.pyplot as plt
from IPython.display import display

from notebooks.lakedata import published, where

print(where())
pyramid = published("gold.population.fct_population_pyramid")
vital = published("gold.population.fct_vital_events_monthly")
latest = pyramid["as_of_date"].max()
pyramid = pyramid[pyramid["as_of_date"] == latest]
print(f"population pyramid as of {latest}: {int(pyramid['persons'].sum())} living persons")

# %% [markdown]
# ## Population pyramid (all districts)

# %%
bands = pyramid.pivot_table(index="age_band", columns="sex", values="persons", aggfunc="sum", fill_value=0)
bands = bands.sort_index()
fig, ax = plt.subplots(figsize=(7, 5))
columns = list(bands.columns)
left = bands[columns[0]] if columns else []
ax.barh(bands.index, -left, label=str(columns[0]) if columns else "")
if len(columns) > 1:
    ax.barh(bands.index, bands[columns[1]], label=str(columns[1]))
ax.set_xlabel("persons (left: negative axis)")
ax.set_ylabel("age band")
ax.set_title(f"Population pyramid, {latest}")
ax.legend()
plt.show()
display(bands)

# %% [markdown]
# ## Births and deaths per month (province)

# %%
monthly = vital.groupby("month")[["births", "deaths"]].sum().sort_index()
fig, ax = plt.subplots(figsize=(8, 4))
monthly.plot(ax=ax, marker="o")
ax.set_ylabel("events")
ax.set_title("Vital events per month")
plt.show()
display(monthly.tail(12))
