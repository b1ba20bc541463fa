{#- Seed step 2, first half: download and verify the release once per minion (shared by all prisoners).
    With jailprov:zfs, the prisoners' parent dataset and (for clone prisoners) the release dataset.
    Rendered only for a valid pillar. #}
{%- from tpldir ~ "/map.jinja" import valid, zfs with context %}
include:
  - jail.validate
{%- if valid %}

jailprov-release:
  jailprov.release_fetched:
    - name: release
    - require:
      - jailprov: jailprov-pillar-valid
{%- if zfs %}

jailprov-zfs:
  jailprov.zfs_host:
    - name: zfs
    - require:
      - jailprov: jailprov-release
{%- endif %}
{%- endif %}
