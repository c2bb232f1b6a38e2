"""A fixed list of 2,000 common English words (the most frequent lower-case words of 3-10 letters in the
Brown corpus), so the letter-counting and reversal families need no data root.
"""
from __future__ import annotations

_WORDS = """
the and that was for with his had not are from this have which were one but you her they all would
him their been has will who more out she said there can than them into its about when time only
other could what two some any man may like over first these such made our new most now then must
also did even back years before through many down way much your should well where long after people
year because too little good those make own very work men each just world still see get between day
being life know same might off never under old three last both how came against great used right
here state himself come take few another use while around place home high without found again small
thought went say part left upon got number course hand away since during water always fact does
school every less until head enough called think took put night public far something once set end
told house almost better system eyes going present find didn knew group don face asked however point
give four room side toward days half per given though program possible social important large order
business looked second look next form children case things become young nothing later felt ever
rather need best saw often least along five several light early war seemed power mind thing country
interest big area want family let turned within door help open general done whole among problem
members sense began kind matter different name itself certain line law action human others city
means week example hands gave yet government feet today car above taken body past seen free local
across show either white history quite experience death money themselves words making really word
known times anything full together period held political whether cannot boy having already real
service shall brought question seems moment whose tell field child keep ago individual cost wife
became behind sure result job self why problems company available study heard run change position
reason short probably woman level major areas special close century age town mother type seem class
church policy clear turn air front wanted girl economic hard six rate necessary love voice surface
true control top community future feel able effect office provide perhaps morning stood national
party tax total common million value students following low play near military father force sound
land evidence believe mean leave third range music although women plan road longer process situation
single strong various society further says increase idea cut lines started personal alone months
minutes living pressure center ground gone stage schools kept outside fire needed nature private
usually values looking art expected else book basis view call modern greater required hour hundred
wrote moved conditions complete return particular dark education support soon hours person attention
industry black material board live late lost developed won coming couldn heart costs amount followed
space added except feeling including taking reached tried story act pay dead miles read college move
recent wide picture ten makes shown figure cold data simply equipment received care states
everything hope hold doing basic sometimes fine nation floor inside spirit trying cent sort rest
simple difficult terms passed subject building religious beyond beginning walked nor getting son
especially paper bring therefore higher written table property report working talk natural meeting
needs growth likely hear final twenty wall considered answer friends husband hair purpose stand
entire sat ready paid countries forces difference non month wasn cases involved meet training market
similar step thus street middle lay happened issue earlier effort color points size sent whom
knowledge weeks lot thinking letter increased decided president addition statement results showed
food red production summer reading foreign eye bad anti start girls lower fall due stock moral
methods programs record ideas section degree method understand directly research population normal
police trade peace strength game boys aid concerned member appeared questions deal nearly earth
trouble led merely anyone comes continued bed piece direction using influence ran below physical
opened finally literature cause term list wrong suddenly defense met instead labor chance average
stopped plane evening theory effective services worked provided former shot actually meaning ways
try myself friend sales groups plant respect forms changes efforts placed truth easy lead blood
court hot horse systems fear wouldn herself charge manner freedom based direct movement carried
somewhat length couple series reaction works latter approach treatment beautiful throughout larger
hit numbers medical lived served trial described determined running remember decision born straight
pool window generally reported image feed indeed operation clearly sun character persons volume
student arms nations appear certainly heavy square account quality federal learned technical ask
fiscal planning forward steps audience test serious writing returned obtained activity industrial
filled corner deep price ones types science gives farm season pattern doubt seven function moving
saying growing choice blue eight stop design according covered spring completely green include foot
letters attack firm parts wish nuclear distance specific central officer hall recently activities
closed effects extent visit radio cars lack progress speak slowly afternoon designed indicated main
ball built existence language importance stress race plans staff patient stay expect neither role
principle glass additional married cities consider ahead leaders mouth remained played waiting arm
easily reach note applied attitude date continue doctor spent write serve apparently limited press
analysis interested prepared scene becomes style gun current suggested elements faith playing
machine bit rise original reasons factors teeth management raised demand status rates dropped
exactly religion figures energy weight thirty meant follow dollars places walk daily events hardly
enemy drive thousand pretty talking sides fight facilities station income techniques related entered
knows hadn university concern caught share popular round claim products inch supply gas nine opinion
usual happy trees standing materials actual primary accepted unit poor attempt changed film thin
studies behavior radiation standard included shows relations worth books older highly balance
successful famous practice giving heat tradition remain none sign determine sitting proper mass
structure news obvious fell marriage objective oil pieces produced laws names project purposes break
complex cattle funds source build noted caused entirely active dinner fast pain kitchen pass goes
post annual leadership regard product discussion condition success announced principal carry parents
health equal speed unless develop brother ship sea clothes degrees measure quickly spoke units
whatever isn obviously clay inches broad sight poetry takes allowed marked companies chief team
yesterday base positive touch hotel finished jazz died facts assistance failure require cover
workers frequently key published records doesn loss opening dance stations concept region previous
enter capital named capacity greatest officers variety remains appears stated created shape
relatively remembered aware carefully sex agreed offered produce authority learn prevent manager
bottom bridge collection slightly scientific interests fifty proposed operating begin teacher
impossible presented churches bright trip instance mentioned sources someone cells committee
campaign battle event subjects essential immediate fixed financial philosophy leaving provides union
houses double spread watched upper drink hell fully bill crisis add recognized regular explained
indicate lives agreement watch apartment formed neck features musical studied director session offer
forced atmosphere desire editor memory operations edge reality expression reports citizens maximum
file secret opposite club picked winter smaller literary river sweet poems reduced district address
treated laid gain favor believed looks strange everyone train fresh poet anode receive daughter
hearing rules economy separate procedure hospital response classes buildings flat follows index
difficulty beside seeing knife bottle permit vote quiet justice leader frame check expressed trust
killed stayed gray coffee cell removed presence election fit county pointed security fourth
increasing failed dog bar ability writer watching rich tone familiar observed boat personnel fair
wait selected advantage planned assumed discovered pulled weather sharp solid store youth murder
faculty drawn yourself rose die contrast thick official platform plus resources animal camp horses
writers standards brown items brief faces accept legal rights vocational factor chosen headed mile
proved broke forth detail dust smiled allow willing quick constant send cross carrying ordered ends
nice evil soft wants realized box dry realize ordinary birth seek directed rule wage increases block
flow relief waited buy levels shelter settled otherwise fields walls legs wine suppose career wind
calls master minute connection powers danger twice liberal completed principles largely beat rain
sit beauty compared warm page maybe historical minimum odd lips actions asking telephone declared
statements fighting fellow reference clean dogs excellent kid practical phase dress occurred
potential answered policies despite site unity text initial scale helped issues division signs
rapidly fashion plays background employees broken impact membership chair ought ourselves aircraft
fingers emotional duty leading estimated teachers projects billion sufficient discussed politics
stands families search cutting slow gets clock supposed baby wore contained north appeal claims desk
electronic sections adequate measured wonder protection hung holding objects jury reasonable matters
passing negative goal faced object jobs artist everybody powerful bodies shoulder closely capable
grew empty sleep department resolution kill aspects message dramatic explain model happen located
drew belief yards argument assignment typical south highest conscious pictures grow metal ancient
primarily spiritual relation universe reduce portion informed benefit honor tomorrow speech
conference struggle affairs towards drove arrived loose unusual achieved narrow rock column trained
greatly newspaper recognize mission safe yellow turning experiment assume location dominant homes
procedures prices friendly budget teaching starting setting showing escape agencies sets rifle
properties sky weapons pleasure evident dream keeping heavily ended learning rising existing closer
score traffic novel contract understood commercial sensitive join save nose tests refused spot vast
machinery onto maintain domestic exchange fat careful feelings stared extreme confidence establish
task stories equally conclusion roof goods contact song intensity busy ultimate guests smile shop
struck motion finds academic exist signal ideal eat fiction truck concerning tree pale circle
charged courses drop talked formula tension emphasis parties uses judgment forty army appearance
possibly command lie occasion chemical electric unique plants etc liked technique useful exercise
cool lose culture wondered sexual sought details aside permitted causes processes repeated apparent
critical supported limit taste majority soldiers solution organized vision leg songs streets
continuing enjoyed bought associated alive somehow fairly tall mine painting requires shook
officials providing advance apply surprised driver perfect avoid rooms wheel runs hole dozen
entrance chest entitled identity truly wood travel hat becoming minds loved moon spite dictionary
conducted governor item roads notice firms previously credit joined replied demands extended motor
symbol win afraid regarded pick begins theme extra percent device grass baseball naturally bedroom
generation acting wished yes bank attend unable element absence positions grounds vital victory
worry seat divided driving conduct improved games mark owned wonderful flowers notes snow components
bound soil pure lady bear sample sin wagon title granted dollar largest fund phone pushed prove huge
risk operate spend machines assigned fifteen nineteenth draw wild gold properly suggest create
beneath orders windows imagine inner breath angle depth disease content flesh crowd introduced fill
conflict decisions payment bitter speaking vehicles wave widely stream centers abroad troops female
rear grown plain forget breakfast shoulders guess sounds artery achieve employed approval handle
housing views correct raise west developing stages agree telling plenty advanced animals slight
situations author begun putting nodded soul wet thoughts stone waves laughed practices mention
issued expense extremely elections captain railroad hoped detailed chain remove knowing pull minor
proud wooden acceptance hero advice pair surprise brilliant blind pre walking twelve cultural
uniform devoted conviction engine desired silent noticed easier sick detective ice suit chairman
millions request television firmly hopes tendency depends payments nobody somebody grade taught cry
missile papers finding burning incident formal rolled operator tiny convinced colors drinking dear
towns childhood valley efficiency welfare passage destroy estate choose agency sold internal remarks
worse impressive target tired screen park shooting quietly village pink artists driven comparison
creative cast centuries equivalent measures swung moments maintained leaves medium diameter poem
attitudes skin liquid fought appointed bonds denied creation sheet trend review deny iron expenses
testimony garden apart remarkable vacation tragedy minister pocket unknown boats meat library aspect
version mere somewhere silence contrary periods examples patterns till rural liquor violence load
secretary sum losses executive civil handed engaged provision safety honest
"""

COMMON_WORDS: tuple[str, ...] = tuple(_WORDS.split())
