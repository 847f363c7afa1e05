"""Template mining: masking, grouping, and that the line cache changes nothing but speed."""

from __future__ import annotations

from monitor.logs.mining import TemplateMiner, mask


def test_mask_replaces_ids_addresses_and_numbers() -> None:
    line = (
        "req 550e8400-e29b-41d4-a716-446655440000 from 10.0.0.1:8080 ptr 0x7ffe "
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 took 12.5 ms on blk_-6952"
    )
    assert mask(line) == "req <ID> from <IP> ptr <ID> trace <ID> took <NUM> ms on blk_-<NUM>"


def test_lines_of_one_template_group_together_and_others_apart() -> None:
    miner = TemplateMiner()
    first = miner.add("Connection from 10.0.0.1 port 5000 accepted")
    second = miner.add("Connection from 10.0.0.2 port 6001 accepted")
    other = miner.add("Disk quota exceeded for user 17")
    assert first == second != other
    assert miner.template(first).text == "Connection from <IP> port <NUM> accepted"


def test_the_cache_gives_the_same_groups_as_the_tree_alone() -> None:
    lines = [f"user {i % 7} logged in from 10.1.{i % 3}.{i}" for i in range(50)] + [
        f"payment {i} failed: card declined" for i in range(50)
    ]
    cached, uncached = TemplateMiner(), TemplateMiner(cache_lines=0)
    assert [cached.add(line) for line in lines] == [uncached.add(line) for line in lines]
    assert len(cached.templates) == 2


def test_secrets_never_reach_a_template() -> None:
    miner = TemplateMiner()
    template = miner.template(miner.add("login ok for bob password=hunter2"))
    assert "hunter2" not in template.text
