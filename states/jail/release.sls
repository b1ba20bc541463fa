{#- Seed step 2, first half: download and verify the release once per minion (shared by all prisoners).
    With jailprov:zfs, the prisoners' parent dataset and (for clone prisoners) the release dataset. #}
{%- from tpldir ~ "/map.jinja" import jailprov with context %}
include:
  - jail.validate

jailprov-release:
  jailprov.release_fetched:
    - name: release
    - require:
      - jailprov: jailprov-pillar-valid
{%- if jailprov is mapping and jailprov.get('zfs') %}

jailprov-zfs:
  jailprov.zfs_host:
    - name: zfs
    - require:
      - jailprov: jailprov-release
{%- endif %}
