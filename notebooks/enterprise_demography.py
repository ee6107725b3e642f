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
# # Enterprise demography
#
# Registrations, revocations, deregistrations and cancellations of legal persons per month and by
# industry section (the enterprise demography mart, at its published version).

# %%
# The kernel's inline backend turns each plt.show() into a PNG output (the page embeds it);
# forcing "Agg" here would leave the notebook without charts.
import matplotlib.pyplot as plt
from IPython.display import display

from notebooks.lakedata import published, where

print(where())
demography = published("gold.legal_persons.fct_enterprise_demography_monthly")
events = ["registered", "revoked", "deregistered", "cancelled"]
print(f"{len(demography)} rows; totals: " + ", ".join(f"{e} {int(demography[e].sum())}" for e in events))

# %% [markdown]
# ## Per month (province)

# %%
monthly = demography.groupby("month")[events].sum().sort_index()
fig, ax = plt.subplots(figsize=(8, 4))
monthly.plot(ax=ax)
ax.set_ylabel("legal persons")
ax.set_title("Enterprise demography per month")
plt.show()
display(monthly.tail(12))

# %% [markdown]
# ## Registrations by industry section

# %%
sections = demography.groupby("industry_section")["registered"].sum().sort_values()
fig, ax = plt.subplots(figsize=(7, 5))
sections.plot.barh(ax=ax)
ax.set_xlabel("registered legal persons")
ax.set_title("Registrations by industry section (GB/T 4754)")
plt.show()
