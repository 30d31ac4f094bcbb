# The shape of program issue #8 says must run unchanged (endpoint and key from
# OPENAI_BASE_URL and OPENAI_API_KEY).
from nanoclaw import Agent
from nanoclaw.isolation import DockerSandbox

agent = Agent(
    name="SupportBot_v2",
    model="gpt-4o-mini",
    sandbox=DockerSandbox(
        image="host",
        mem_limit="512m",
        cpu_shares=512,
        network_disabled=False,
        allowed_hosts=["api.internal:443"],
    ),
)
print(agent.execute("Which user do your commands run as? Check, then answer."))
