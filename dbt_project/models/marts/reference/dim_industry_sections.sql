-- GB/T 4754-2017 sections (门类), from govlake.reference.industry (passed as the var
-- industry_sections), plus 'unknown' for a legal person without a valid industry code.
{%- set sections = var('industry_sections') %}
select section, name from values
{%- for letter, name in sections %}
    ('{{ letter }}', '{{ name }}'),
{%- endfor %}
    ('unknown', '未知 (no valid GB/T 4754 code)') as sections(section, name)
