{#- Seed step 2, first half: download and verify the release once per minion (shared by all prisoners). #}
include:
  - jail.validate

jailprov-release:
  jailprov.release_fetched:
    - name: release
    - require:
      - jailprov: jailprov-pillar-valid
